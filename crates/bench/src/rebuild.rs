//! `tahc-bench rebuild`: how fast `tahc rebuild` turns a log of real,
//! sealed conversations back into views, beside the bare cost of reading,
//! decoding and opening the same events in the same run; and how fast a
//! compaction (after an erasure) copies the views it built, beside it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tahc_app::{SendMessage, Vault};
use tahc_events::Position;
use tahc_store::{EventStore, LogReader, SledLog};

use crate::report;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Options of `tahc-bench rebuild`.
#[derive(clap::Args)]
pub struct RebuildArgs {
    /// Conversations to seed, each from its own visitor.
    #[arg(long, default_value_t = 5_000)]
    conversations: usize,
    /// Further visitor messages per conversation.
    #[arg(long, default_value_t = 4)]
    messages: usize,
    /// Concurrent seeding tasks.
    #[arg(long, default_value_t = 32)]
    writers: usize,
    /// Directory for the scratch data.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Seeds through the command path (so every body is sealed), rebuilds, and
/// reports both rates.
pub async fn run(args: RebuildArgs) -> Result<()> {
    let scratch = crate::scratch(args.dir.as_ref())?;
    let (node, created) = crate::bench_node(scratch.path()).await?;
    let (node, workspace) = (Arc::new(node), created.workspace_id);
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..args.writers {
        let (node, args_messages) = (node.clone(), args.messages);
        let count = (writer..args.conversations).step_by(args.writers).count();
        writers.spawn(async move {
            let c = &node.commands;
            for n in 0..count {
                let visitor = c.new_visitor(workspace).await?;
                let (conversation, _) = c
                    .start_conversation(&visitor, None, format!("question {writer}-{n}"))
                    .await?;
                if n % 4 == 0 {
                    let email = format!("v{writer}-{n}@bench.example");
                    c.identify_visitor(&visitor, None, email, Some(format!("Visitor {n}")))
                        .await?;
                }
                for m in 0..args_messages {
                    let message = SendMessage {
                        conversation_id: conversation,
                        body: format!("follow-up {m} about order {writer}-{n}"),
                        internal: false,
                        confidence: None,
                        idempotency_key: None,
                    };
                    c.send_message(&visitor, message).await?;
                }
            }
            Ok::<(), tahc_app::AppError>(())
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    let node = Arc::into_inner(node).ok_or("the node is still shared")?;
    node.shutdown().await;

    let log = SledLog::open(scratch.path().join("log"))?;
    let vault = Vault::new(log.subject_keys());
    let started = Instant::now();
    let (mut position, mut events) = (Position::START, 0u64);
    loop {
        let page = log.read_all(position, 2048).await?;
        let Some(last) = page.last() else { break };
        position = last.position;
        for record in &page {
            let mut event = record.decode()?;
            event.open_with(&vault)?;
            std::hint::black_box(&event);
        }
        events += page.len() as u64;
    }
    let baseline = events as f64 / started.elapsed().as_secs_f64();
    let rebuilt =
        tahc_app::rebuild::rebuild(&log, &scratch.path().join("views"), |_, _| {}).await?;
    log.close().await;
    report::throughput(
        "rebuild",
        "events_per_s",
        rebuilt.rate(),
        "read_decode_open",
        baseline,
    );
    // What a node does after an erasure: copy the same views whole.
    let views = tahc_projections::Views::open(scratch.path().join("views"))?;
    let started = Instant::now();
    views.compact()?;
    report::throughput(
        "compaction",
        "events_per_s",
        events as f64 / started.elapsed().as_secs_f64(),
        "rebuild",
        rebuilt.rate(),
    );
    Ok(())
}
