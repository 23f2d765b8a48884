//! `tahc-bench pg`: append throughput through `PgLog` beside plain
//! single-row `INSERT` commits on the same database in the same run.
//!
//! * `pg_append`: events/s through one node's `PgLog` from `--writers`
//!   concurrent appenders, one event per append (group commit at work).
//! * baseline `single_row_insert_commits`: rows/s from as many connections,
//!   each committing one `INSERT` of a row of the same size at a time.
//!
//! Target (issue 8): ≥ 3× the baseline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tahc_store::EventStore;

use tahc_store::conformance::{event, stream};
use tahc_store::{EventAppender, ExpectedVersion, PgLog, PgOptions};
use tokio_postgres::NoTls;

use crate::report;

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
    /// Seconds per figure.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Payload bytes per event (and per baseline row).
    #[arg(long, default_value_t = 200)]
    payload: usize,
}

/// Runs `tahc-bench pg`.
pub async fn run(args: PgArgs) -> Result<()> {
    let schema = format!("tahc_bench_{}", uuid::Uuid::now_v7().simple());
    let (admin, connection) = tokio_postgres::connect(&args.url, NoTls).await?;
    tokio::spawn(connection);
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.bench_rows (id BIGSERIAL PRIMARY KEY, payload BYTEA NOT NULL);"
        ))
        .await?;
    let measured = async {
        let baseline = baseline(&args, &schema).await?;
        let appended = appends(&args, &schema).await?;
        report::throughput(
            "pg_append",
            "events_per_s",
            appended,
            "single_row_insert_commits",
            baseline,
        );
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    }
    .await;
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
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
