//! `tahc-bench store`: the event log against raw sled on the same disk.
//!
//! * `store_append`: N events of ~P bytes from W concurrent writers on
//!   distinct streams, durable; baseline `raw_sled_batch` writes the very
//!   same keys and values the log wrote (record, stream index, event id
//!   index) straight into a sled tree, in the log's order, in batches of the
//!   size the log's group commit reached, made durable the same way after
//!   each batch. What the ratio measures is the log's own machinery: queues,
//!   checks, hashing, acknowledgement.
//! * `store_append_vs_records_only` (informational): the same run against
//!   writing the record bytes alone, i.e. including the cost of the indexes.
//! * `store_append_latency`: one writer, one event per append; baseline one
//!   raw insert plus the same durable flush.
//! * `store_read_all`: the whole log through `read_all` (decoded records)
//!   against iterating the raw tree, both on freshly opened databases.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tahc_events::Position;
use tahc_store::EventStore;
use tahc_store::conformance::{event, stream};
use tahc_store::{
    Durability, EventAppender, ExpectedVersion, LogReader, SLED_TREE, SledLog, sled_keys,
};

use crate::report;

/// Options of `tahc-bench store`.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// Events appended by the throughput run.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Concurrent writers, each on its own stream.
    #[arg(long, default_value_t = 64)]
    writers: usize,
    /// Approximate payload size in bytes.
    #[arg(long, default_value_t = 300)]
    payload: usize,
    /// Appends timed one by one for the latency figure.
    #[arg(long, default_value_t = 2_000)]
    latency_samples: usize,
    /// Directory for the scratch databases (default: the system's temporary
    /// directory); use one on the disk you want to measure.
    #[arg(long)]
    dir: Option<PathBuf>,
}

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Events per `read_all` call when reading the whole log: large enough that
/// per-call costs vanish, small enough that a page stays in the allocator's
/// reuse (8,192-event pages were slower: each one was fresh memory).
const READ_PAGE: usize = 1024;

/// Runs every store benchmark and prints their figures.
pub async fn run(args: StoreArgs) -> Result<()> {
    let scratch = crate::scratch(args.dir.as_ref())?;
    let log_dir = scratch.path().join("log");

    let (append_rate, batch) = append_throughput(&log_dir, &args).await?;
    let writes = stored_writes(&log_dir, usize::MAX)?;
    let raw_rate = raw_batch_throughput(&scratch.path().join("raw"), &writes, batch, true)?;
    report::throughput(
        "store_append",
        "events_per_s",
        append_rate,
        "raw_sled_batch",
        raw_rate,
    );
    let records_rate =
        raw_batch_throughput(&scratch.path().join("records"), &writes, batch, false)?;
    report::throughput(
        "store_append_vs_records_only",
        "events_per_s",
        append_rate,
        "raw_sled_batch_records_only",
        records_rate,
    );

    let mut best_read = 0f64;
    let mut best_raw_read = 0f64;
    for _ in 0..3 {
        best_read = best_read.max(read_all_rate(&log_dir).await?);
        best_raw_read = best_raw_read.max(raw_iteration_rate(&log_dir)?);
    }
    report::throughput(
        "store_read_all",
        "events_per_s",
        best_read,
        "raw_sled_iter",
        best_raw_read,
    );

    append_latency(scratch.path(), &args).await
}

async fn append_throughput(dir: &Path, args: &StoreArgs) -> Result<(f64, usize)> {
    let log = Arc::new(SledLog::open(dir)?);
    let per_writer = args.events / args.writers;
    let payload = args.payload;
    let started = Instant::now();
    let writers: Vec<_> = (0..args.writers)
        .map(|writer| {
            let log = log.clone();
            tokio::spawn(async move {
                let stream = stream(&format!("bench-{writer}"));
                for _ in 0..per_writer {
                    log.append(&stream, ExpectedVersion::Any, vec![event(payload)])
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await?;
    }
    let rate = (per_writer * args.writers) as f64 / started.elapsed().as_secs_f64();
    let stats = log.write_stats();
    log.close().await;
    let batch = (stats.events / stats.flushes.max(1)).max(1) as usize;
    Ok((rate, batch))
}

/// The keys and values the log wrote for one event.
pub(crate) struct EventWrites {
    record: (sled::IVec, sled::IVec),
    indexes: [(Vec<u8>, [u8; 8]); 2],
}

/// Every write the log made (up to `limit` events), event by event, in
/// position order.
pub(crate) fn stored_writes(log_dir: &Path, limit: usize) -> Result<Vec<EventWrites>> {
    let db = tahc_store::open_sled_db(log_dir)?;
    let tree = db.open_tree(SLED_TREE)?;
    let mut writes = Vec::new();
    for entry in tree.scan_prefix(b"e").take(limit) {
        let (key, value) = entry?;
        let event = tahc_store::record::decode(&value)?;
        let position = event.position.0.to_be_bytes();
        let indexes = [
            (
                sled_keys::stream_entry(&event.stream_id, event.stream_version),
                position,
            ),
            (sled_keys::event_id(event.event_id).to_vec(), position),
        ];
        writes.push(EventWrites {
            record: (key, value),
            indexes,
        });
    }
    Ok(writes)
}

/// Writes `writes` straight into sled in batches of `batch` events, each
/// made durable as the log does; with or without the index entries.
pub(crate) fn raw_batch_throughput(
    dir: &Path,
    writes: &[EventWrites],
    batch: usize,
    with_indexes: bool,
) -> Result<f64> {
    let db = sled::Config::new().path(dir).flush_every_ms(None).open()?;
    let tree = db.open_tree(SLED_TREE)?;
    let mut durability = Durability::open(dir, std::sync::Arc::default())?;
    let started = Instant::now();
    for chunk in writes.chunks(batch) {
        let mut sled_batch = sled::Batch::default();
        for event in chunk {
            sled_batch.insert(&event.record.0, &event.record.1);
            if with_indexes {
                for (key, value) in &event.indexes {
                    sled_batch.insert(key.as_slice(), value);
                }
            }
        }
        tree.apply_batch(sled_batch)?;
        durability.make_durable(&db)?;
    }
    Ok(writes.len() as f64 / started.elapsed().as_secs_f64())
}

async fn read_all_rate(dir: &Path) -> Result<f64> {
    let log = SledLog::open(dir)?;
    let started = Instant::now();
    let mut after = Position::START;
    let mut count = 0usize;
    loop {
        let page = log.read_all(after, READ_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        count += page.len();
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    log.close().await;
    Ok(rate)
}

fn raw_iteration_rate(dir: &Path) -> Result<f64> {
    let db = tahc_store::open_sled_db(dir)?;
    let tree = db.open_tree(SLED_TREE)?;
    let started = Instant::now();
    let mut count = 0usize;
    let mut bytes = 0usize;
    for entry in tree.scan_prefix(b"e") {
        let (_, value) = entry?;
        bytes += value.len();
        count += 1;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(bytes);
    Ok(rate)
}

async fn append_latency(scratch: &Path, args: &StoreArgs) -> Result<()> {
    let log = SledLog::open(scratch.join("latency"))?;
    let stream = stream("latency");
    let mut measured = report::micros();
    for _ in 0..args.latency_samples {
        let one = vec![event(args.payload)];
        let started = Instant::now();
        log.append(&stream, ExpectedVersion::Any, one).await?;
        measured.record(started.elapsed().as_micros() as u64)?;
    }
    log.close().await;

    let raw_dir = scratch.join("latency-raw");
    let db = sled::Config::new()
        .path(&raw_dir)
        .flush_every_ms(None)
        .open()?;
    let tree = db.open_tree(SLED_TREE)?;
    let mut durability = Durability::open(&raw_dir, std::sync::Arc::default())?;
    let value = vec![b'x'; args.payload + 150];
    let mut baseline = report::micros();
    for i in 0..args.latency_samples as u64 {
        let started = Instant::now();
        tree.insert(i.to_be_bytes(), value.as_slice())?;
        durability.make_durable(&db)?;
        baseline.record(started.elapsed().as_micros() as u64)?;
    }
    report::latency(
        "store_append_latency",
        &measured,
        "raw_sled_insert_flush",
        &baseline,
    );
    Ok(())
}
