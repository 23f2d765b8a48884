//! `tahc events`: the log as a readable table or as JSON lines.

use std::io::Write;
use std::process::ExitCode;

use tahc_events::{Position, RecordedEvent};
use tahc_store::LogReader;

use crate::DataDirArg;
use crate::data_dir::{OpenLogError, open_existing_log};

/// Options of `tahc events`.
#[derive(clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// One JSON object per line (the stored envelope, payload included).
    #[arg(long)]
    json: bool,
    /// Start after this position.
    #[arg(long, value_name = "POSITION", default_value_t = 0)]
    after: u64,
    /// Print at most this many events.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

const PAGE: usize = 1024;

/// Prints the requested part of the log.
pub async fn run(args: EventsArgs) -> Result<ExitCode, String> {
    let log = match open_existing_log(&args.data.data_dir) {
        Ok(log) => log,
        // A fresh data directory simply has no events yet; nothing is created.
        Err(OpenLogError::Missing(dir)) => {
            eprintln!("no events yet: {} holds no tahc event log", dir.display());
            return Ok(ExitCode::SUCCESS);
        }
        Err(error) => return Err(error.to_string()),
    };
    let mut out = std::io::stdout().lock();
    let mut after = Position(args.after);
    let mut remaining = args.limit.unwrap_or(usize::MAX);
    if !args.json {
        writeln!(
            out,
            "{:>8}  {:<27}  {:<50}  {:>4}  {:<32}  ACTOR",
            "POSITION", "TIME", "STREAM", "VER", "TYPE"
        )
        .map_err(|e| e.to_string())?;
    }
    while remaining > 0 {
        let page = log
            .read_all(after, PAGE.min(remaining))
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.position;
        remaining -= page.len();
        for event in &page {
            print(&mut out, event, args.json).map_err(|e| e.to_string())?;
        }
    }
    log.close().await;
    Ok(ExitCode::SUCCESS)
}

fn print(out: &mut impl Write, event: &RecordedEvent, json: bool) -> std::io::Result<()> {
    if json {
        let line = serde_json::to_string(event).map_err(std::io::Error::other)?;
        return writeln!(out, "{line}");
    }
    let actor = match &event.actor.id {
        Some(id) => format!("{}:{id}", event.actor.kind.as_str()),
        None => event.actor.kind.as_str().to_owned(),
    };
    writeln!(
        out,
        "{:>8}  {:<27}  {:<50}  {:>4}  {:<32}  {actor}",
        event.position,
        event
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        event.stream_id,
        event.stream_version,
        format!("{} v{}", event.event_type, event.schema_version),
    )
}
