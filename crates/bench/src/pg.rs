//! `tahc-bench pg`: append throughput through `PgLog` beside plain
//! single-row `INSERT` commits on the same database in the same run.
//!
//! * `pg_append`: events/s through one node's `PgLog` from `--writers`
//!   concurrent appenders, one event per append (group commit at work).
//! * baseline `single_row_insert_commits`: rows/s from as many connections,
//!   each committing one `INSERT` of a row of the same size at a time.
//!   Measured in `--pairs` baseline/append pairs, alternating which goes
//!   first; the figure is the median of the pairs' ratios.
//!
//! * `pg_cross_node_latency`: two nodes on one PostgreSQL log; messages
//!   posted through node A at `--rate`, from each append's acknowledgement
//!   to its frame at a `conversationChanges` subscriber of node B, beside
//!   the baseline `pg_same_node_latency` (a subscriber of node A, in the
//!   same run).
//!
//! Targets (issue 8): appends ≥ 3× the baseline; cross-node p99 ≤ 50 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tahc_api::graphql_ws::LiveSettings;
use tahc_app::{Node, Reactions, SystemClock};
use tahc_store::conformance::{event, stream};
use tahc_store::{EventAppender, EventStore, ExpectedVersion, PgLog, PgOptions};
use tokio_postgres::NoTls;

use crate::{live, report};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Options of `tahc-bench pg`.
#[derive(clap::Args)]
pub struct PgArgs {
    /// The database (a scratch schema is created in it and dropped after).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    url: String,
    /// Concurrent writers (and baseline connections).
    #[arg(long, default_value_t = 64)]
    writers: usize,
    /// Seconds per figure (per half of a pair for the append figure).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Baseline/append pairs measured one after the other, in alternating
    /// order, so that the machine's drift over the run (other tenants'
    /// load) weighs on both sides alike; the figure is their median.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pairs: u64,
    /// Payload bytes per event (and per baseline row).
    #[arg(long, default_value_t = 200)]
    payload: usize,
    /// Messages posted through node A for the cross-node latency.
    #[arg(long, default_value_t = 2_000)]
    messages: u64,
    /// Messages per second posted through node A.
    #[arg(long, default_value_t = 200)]
    rate: u32,
}

/// Runs `tahc-bench pg`.
pub async fn run(args: PgArgs) -> Result<()> {
    let schema = format!("tahc_bench_{}", uuid::Uuid::now_v7().simple());
    let (admin, connection) = tokio_postgres::connect(&args.url, NoTls).await?;
    tokio::spawn(connection);
    let nodes_schema = format!("{schema}_nodes");
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.bench_rows (id BIGSERIAL PRIMARY KEY, payload BYTEA NOT NULL);
             CREATE SCHEMA {nodes_schema};"
        ))
        .await?;
    let measured = async {
        let mut pairs = Vec::new();
        for pair in 0..args.pairs {
            let (appended, baseline) = if pair % 2 == 0 {
                let baseline = baseline(&args, &schema).await?;
                (appends(&args, &schema).await?, baseline)
            } else {
                let appended = appends(&args, &schema).await?;
                (appended, baseline(&args, &schema).await?)
            };
            pairs.push((appended, baseline));
        }
        let figure = report::Paired::of(&pairs).ok_or("no pairs were measured")?;
        report::paired_throughput(
            "pg_append",
            "events_per_s",
            &figure,
            "single_row_insert_commits",
        );
        cross_node(&args, &nodes_schema).await
    }
    .await;
    admin
        .batch_execute(&format!(
            "DROP SCHEMA {schema} CASCADE; DROP SCHEMA {nodes_schema} CASCADE"
        ))
        .await?;
    measured
}

/// How long the writers of one figure run, and how much they got done.
#[derive(Clone, Default)]
struct Tally {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
}

impl Tally {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn count(&self, units: u64) {
        self.done.fetch_add(units, Ordering::Relaxed);
    }

    /// Lets `tasks` run for `seconds`, stops them; units per second.
    async fn rate(
        &self,
        seconds: u64,
        tasks: Vec<tokio::task::JoinHandle<Result<()>>>,
    ) -> Result<f64> {
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        self.stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await??;
        }
        Ok(self.done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
    }
}

/// Single-row `INSERT` commits from `writers` connections: rows/s.
async fn baseline(args: &PgArgs, schema: &str) -> Result<f64> {
    let tally = Tally::default();
    let mut tasks = Vec::with_capacity(args.writers);
    for _ in 0..args.writers {
        let (client, connection) = tokio_postgres::connect(&args.url, NoTls).await?;
        tokio::spawn(connection);
        let insert = client
            .prepare(&format!(
                "INSERT INTO {schema}.bench_rows (payload) VALUES ($1)"
            ))
            .await?;
        let (tally, payload) = (tally.clone(), vec![7u8; args.payload]);
        tasks.push(tokio::spawn(async move {
            while tally.running() {
                client.execute(&insert, &[&payload]).await?;
                tally.count(1);
            }
            Ok(())
        }));
    }
    tally.rate(args.seconds, tasks).await
}

/// One-event appends through one node's `PgLog` from `writers` tasks:
/// events/s.
async fn appends(args: &PgArgs, schema: &str) -> Result<f64> {
    let options = PgOptions {
        schema: Some(schema.to_owned()),
        ..PgOptions::default()
    };
    let log = PgLog::connect_with(&args.url, options).await?;
    let tally = Tally::default();
    let mut tasks = Vec::with_capacity(args.writers);
    for writer in 0..args.writers {
        let (tally, log, payload) = (tally.clone(), log.clone(), args.payload);
        tasks.push(tokio::spawn(async move {
            let stream = stream(&format!("writer-{writer}"));
            while tally.running() {
                log.append(&stream, ExpectedVersion::Any, vec![event(payload)])
                    .await?;
                tally.count(1);
            }
            Ok(())
        }));
    }
    let rate = tally.rate(args.seconds, tasks).await;
    log.close().await;
    rate
}

/// A node whose views live in `dir`, on the log in `schema`, without
/// reactions (the figure is the log's fan-out, not the AI's replies).
async fn node_on(args: &PgArgs, schema: &str, dir: &std::path::Path) -> Result<Arc<Node>> {
    let options = PgOptions {
        schema: Some(schema.to_owned()),
        ..PgOptions::default()
    };
    let log = PgLog::connect_with(&args.url, options).await?;
    let node = Node::start_on(dir, Arc::new(SystemClock), Reactions::Off, Arc::new(log)).await?;
    Ok(Arc::new(node))
}

/// Messages posted through node A, received by a subscriber of node B and,
/// as the baseline, by a subscriber of node A.
async fn cross_node(args: &PgArgs, schema: &str) -> Result<()> {
    let (dir_a, dir_b) = (tempfile::TempDir::new()?, tempfile::TempDir::new()?);
    let a = node_on(args, schema, dir_a.path()).await?;
    let b = node_on(args, schema, dir_b.path()).await?;
    let created = crate::bench_workspace(&a).await?;
    let visitor = a.commands.new_visitor(created.workspace_id).await?;
    let (conversation, _) = a
        .commands
        .start_conversation(&visitor, None, "start".into())
        .await?;
    let head = a.log.head().await?;
    for node in [&a, &b] {
        if !node.wait_for(head, Duration::from_secs(30)).await {
            return Err("a node's views did not catch up".into());
        }
    }
    let epoch = Instant::now();
    let acks: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.messages).map(|_| AtomicU64::new(0)).collect());
    let mut readers = Vec::new();
    for node in [&a, &b] {
        let address = crate::serve(node.clone(), LiveSettings::default()).await?;
        let url = format!("ws://{address}/graphql");
        let mut socket = live::subscriber(&url, &created.api_key, live::CHANGES).await?;
        let (acks, expected) = (acks.clone(), args.messages);
        readers.push(tokio::spawn(async move {
            live::latencies(&mut socket, expected, &acks, epoch).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    for seq in 0..args.messages {
        ticks.tick().await;
        a.commands
            .send_message(&visitor, live::numbered_message(conversation, seq))
            .await?;
        let acked = epoch.elapsed().as_micros() as u64;
        acks[seq as usize].store(acked.max(1), Ordering::Release);
    }
    let mut figures = Vec::new();
    for reader in readers {
        let (seen, latencies) = tokio::time::timeout(Duration::from_secs(60), reader).await??;
        if seen != args.messages {
            return Err(format!("a subscriber got {seen} of {} messages", args.messages).into());
        }
        figures.push(latencies);
    }
    report::latency(
        "pg_cross_node_latency",
        &figures[1],
        "pg_same_node_latency",
        &figures[0],
    );
    Ok(())
}
