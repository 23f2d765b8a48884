//! The embedded event log on sled 0.34: the default backend.

pub(crate) mod durability;
pub mod keys;
mod reserve;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use tahc_events::{NewEvent, Position, RecordedEvent, StreamId};

use crate::append_queue::AppendQueue;
use crate::error::{AppendError, OpenError, ReadError};
use crate::log::{
    Appended, EventAppender, EventStore, ExpectedVersion, LogReader, LogSubscriber, StreamReader,
};
use crate::record::{self, GENESIS, RecordError};
use crate::subject_keys::{KeyError, SledKeys, SubjectKeys};
use crate::subscription::{LiveFeed, Subscription};
use crate::verify::{Verification, verify};
use durability::{DiskFaults, Durability};
pub use reserve::DEFAULT_RESERVE_BYTES;
use reserve::DiskReserve;
use writer::Writer;

/// The name of the sled tree that holds the log.
pub const TREE: &str = "log";

/// Appends that may wait for the writer before callers are held back.
const QUEUE: usize = 8192;

/// Bytes of pages each of a node's sled databases (the log, the views)
/// keeps in memory unless told otherwise: room for what is read again soon
/// (recent records, the inbox's first pages), bounded so that a node's
/// memory does not grow with its data (sled's own default is 1 GiB each).
pub const DEFAULT_CACHE_BYTES: u64 = 8 << 20;

/// Tuning of a [`SledLog`].
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// Batches the live channel holds before slow subscribers fall back to
    /// reading storage.
    pub live_capacity: usize,
    /// Bytes of pages sled keeps in memory (sled counts them as stored, so
    /// the memory they take is somewhat larger).
    pub cache_bytes: u64,
    /// Bytes kept free on the log's file system: appends are refused with
    /// [`AppendError::DiskFull`] below it (0: no reserve).
    pub reserve_bytes: u64,
    /// The disk's failures, injected by tests (never, unless told).
    pub faults: Arc<DiskFaults>,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            live_capacity: crate::subscription::LIVE_CAPACITY,
            cache_bytes: DEFAULT_CACHE_BYTES,
            reserve_bytes: DEFAULT_RESERVE_BYTES,
            faults: Arc::default(),
        }
    }
}

/// State shared by the handle and the writer thread.
#[derive(Debug)]
struct Shared {
    /// The last position made durable; readers never look past it.
    durable_head: AtomicU64,
    /// Set by the flusher when a flush failed: the writer must take back
    /// everything written after `durable_head` before its next round.
    roll_back: AtomicBool,
    live: LiveFeed,
    flushes: AtomicU64,
    events: AtomicU64,
}

impl Shared {
    fn record_flush(&self, events: usize) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events as u64, Ordering::Relaxed);
    }
}

/// How the writer has grouped commits so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// Durable writes (one flush and fsync each).
    pub flushes: u64,
    /// Events written.
    pub events: u64,
}

struct Inner {
    dir: PathBuf,
    tree: sled::Tree,
    keys: SledKeys,
    shared: Arc<Shared>,
    jobs: AppendQueue,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    /// Stops taking appends and waits for the writer's last round and flush.
    fn stop_writer(&self) {
        self.jobs.close();
        if let Some(writer) = self.writer.lock().expect("writer lock").take()
            && writer.join().is_err()
        {
            tracing::error!("the event log writer panicked");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

/// The event log in a sled database directory. Cheap to clone; every clone
/// is the same log. Dropping the last clone stops the writer after a final
/// flush and releases the directory.
#[derive(Clone)]
pub struct SledLog {
    inner: Arc<Inner>,
}

impl SledLog {
    /// Opens (or creates) the log in `dir` and starts its writer. Fails with
    /// [`OpenError::Locked`] while another process has it open.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_with(dir, SledOptions::default())
    }

    /// [`SledLog::open`] with explicit options.
    pub fn open_with(dir: impl AsRef<Path>, options: SledOptions) -> Result<Self, OpenError> {
        let dir = dir.as_ref().to_path_buf();
        // sled 0.34 panics on some damaged files (a truncated `db`) instead
        // of answering an error: that is a damaged log too.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            open_db_with(&dir, options.cache_bytes)
        }));
        let db = match opened {
            Ok(opened) => opened.map_err(|error| open_error(&dir, &error))?,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                return Err(OpenError::Damaged(format!("{}: {what}", dir.display())));
            }
        };
        let storage = |e: &dyn std::fmt::Display| OpenError::Storage(e.to_string());
        let tree = db.open_tree(TREE).map_err(|e| storage(&e))?;
        let keys = SledKeys::open(&db, &dir).map_err(|e| storage(&e))?;
        let (head, tail_hash) = match tree.scan_prefix([b'e']).next_back() {
            None => (Position::START, GENESIS),
            Some(entry) => {
                let (key, bytes) = entry.map_err(|e| storage(&e))?;
                let position = keys::event_position(&key)
                    .ok_or_else(|| storage(&"malformed record key at the tail"))?;
                let tail = decode_at(position, bytes)?;
                (position, tail.hash)
            }
        };
        let durability = Durability::open(&dir, options.faults).map_err(|e| storage(&e))?;
        let shared = Arc::new(Shared {
            durable_head: AtomicU64::new(head.0),
            roll_back: AtomicBool::new(false),
            live: LiveFeed::with_capacity(options.live_capacity),
            flushes: AtomicU64::new(0),
            events: AtomicU64::new(0),
        });
        let (queue, jobs) = AppendQueue::new(QUEUE);
        let writer = Writer::start(
            db,
            tree.clone(),
            (durability, DiskReserve::new(&dir, options.reserve_bytes)),
            (head, tail_hash),
            shared.clone(),
            jobs,
        )
        .map_err(|e| storage(&e))?;
        let thread = std::thread::Builder::new()
            .name("tahc-log-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| storage(&e))?;
        Ok(SledLog {
            inner: Arc::new(Inner {
                dir,
                tree,
                keys,
                shared,
                jobs: queue,
                writer: Mutex::new(Some(thread)),
            }),
        })
    }

    /// The directory the log lives in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// How the writer grouped its commits.
    #[must_use]
    pub fn write_stats(&self) -> WriteStats {
        WriteStats {
            flushes: self.inner.shared.flushes.load(Ordering::Relaxed),
            events: self.inner.shared.events.load(Ordering::Relaxed),
        }
    }

    /// Walks the hash chain over the whole log.
    pub async fn verify(&self) -> Result<Verification, ReadError> {
        verify(self).await
    }

    /// Runs a storage read without stalling the runtime: in place on a
    /// multi-threaded runtime (tokio moves this worker's other tasks away),
    /// on the blocking pool otherwise. In place is markedly faster for page
    /// reads than handing each page to another thread (docs/benchmarks.md).
    async fn blocking<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Inner) -> Result<T, ReadError> + Send + 'static,
    ) -> Result<T, ReadError> {
        let inner = self.inner.clone();
        if tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread
        {
            return tokio::task::block_in_place(move || read(&inner));
        }
        tokio::task::spawn_blocking(move || read(&inner))
            .await
            .map_err(|e| ReadError::Storage(e.to_string()))?
    }
}

/// How long opening waits for a lock that a log closed a moment ago (in
/// this process) may still hold.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether sled refused because another handle holds the directory's lock
/// (sled reports it only as text).
fn is_locked(error: &sled::Error) -> bool {
    error.to_string().contains("could not acquire lock")
}

/// Opens the sled database of a log directory as the log uses it. sled lets
/// go of the lock from a background thread shortly after the last handle is
/// dropped, so a held lock is retried for a moment before it counts.
pub fn open_db(dir: &Path) -> Result<sled::Db, sled::Error> {
    open_db_with(dir, DEFAULT_CACHE_BYTES)
}

/// [`open_db`] keeping `cache_bytes` of pages in memory.
pub fn open_db_with(dir: &Path, cache_bytes: u64) -> Result<sled::Db, sled::Error> {
    let started = std::time::Instant::now();
    let config = sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .cache_capacity(cache_bytes);
    loop {
        match config.open() {
            Err(error) if is_locked(&error) && started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            outcome => return outcome,
        }
    }
}

fn open_error(dir: &Path, error: &sled::Error) -> OpenError {
    if is_locked(error) {
        OpenError::Locked {
            path: dir.display().to_string(),
        }
    } else if matches!(error, sled::Error::Corruption { .. }) {
        OpenError::Damaged(format!("{}: {error}", dir.display()))
    } else {
        OpenError::Storage(error.to_string())
    }
}

/// Decodes the record stored at `position`, sharing sled's buffer.
fn decode_at(position: Position, bytes: sled::IVec) -> Result<RecordedEvent, ReadError> {
    let bytes = bytes::Bytes::from_owner(bytes);
    let record =
        record::decode_shared(&bytes).map_err(|source| ReadError::Corrupt { position, source })?;
    if record.position != position {
        return Err(ReadError::Corrupt {
            position,
            source: RecordError::Misplaced {
                found: record.position.0,
            },
        });
    }
    Ok(record)
}

fn storage(error: sled::Error) -> ReadError {
    ReadError::Storage(error.to_string())
}

/// A failed read of the record expected at `position`: damaged bytes are
/// that record's corruption (so `verify` names the first bad position),
/// anything else a storage failure.
fn read_failure(position: Position, error: sled::Error) -> ReadError {
    match error {
        sled::Error::Corruption { .. } => ReadError::Corrupt {
            position,
            source: RecordError::Damaged(error.to_string()),
        },
        other => storage(other),
    }
}

impl Inner {
    fn durable_head(&self) -> Position {
        Position(self.shared.durable_head.load(Ordering::Acquire))
    }

    fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, ReadError> {
        let head = self.durable_head();
        if after >= head || limit == 0 {
            return Ok(Vec::new());
        }
        let last = Position(head.0.min(after.0.saturating_add(limit as u64)));
        let mut events = Vec::with_capacity((last.0 - after.0) as usize);
        let mut expected = after.next();
        for entry in self.tree.range(keys::event(expected)..=keys::event(last)) {
            let (key, bytes) = entry.map_err(|error| read_failure(expected, error))?;
            let position = keys::event_position(&key).ok_or(ReadError::Missing(expected))?;
            if position != expected {
                return Err(ReadError::Missing(expected));
            }
            events.push(decode_at(position, bytes)?);
            expected = expected.next();
        }
        if expected <= last {
            return Err(ReadError::Missing(expected));
        }
        Ok(events)
    }

    fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let head = self.durable_head();
        let prefix = keys::stream_prefix(stream);
        let start = keys::stream_entry(stream, after_version.saturating_add(1));
        let mut events = Vec::new();
        for entry in self.tree.range(start..).take(limit) {
            let (key, value) = entry.map_err(storage)?;
            if !key.starts_with(&prefix) {
                break;
            }
            let position = Position(keys::decode_u64(&value).ok_or_else(|| {
                ReadError::Storage(format!("malformed stream index entry of {stream}"))
            })?);
            if position > head {
                break;
            }
            let bytes = self
                .tree
                .get(keys::event(position))
                .map_err(storage)?
                .ok_or(ReadError::Missing(position))?;
            events.push(decode_at(position, bytes)?);
        }
        Ok(events)
    }
}

/// One node's log: its secrets stay in its data directory.
#[async_trait]
impl EventStore for SledLog {
    fn subject_keys(&self) -> Arc<dyn SubjectKeys> {
        Arc::new(self.inner.keys.clone())
    }

    async fn shared_secret(&self, _name: &str) -> Result<Option<[u8; 32]>, KeyError> {
        Ok(None)
    }

    /// Later appends fail with [`AppendError::Closed`].
    async fn close(&self) {
        let inner = self.inner.clone();
        // Joining the writer blocks until its last flush.
        let _ = tokio::task::spawn_blocking(move || inner.stop_writer()).await;
    }
}

#[async_trait]
impl EventAppender for SledLog {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        self.inner.jobs.append(stream, expected, events).await
    }
}

#[async_trait]
impl StreamReader for SledLog {
    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let stream = stream.clone();
        self.blocking(move |inner| inner.read_stream(&stream, after_version, limit))
            .await
    }
}

#[async_trait]
impl LogReader for SledLog {
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        self.blocking(move |inner| inner.read_all(after, limit))
            .await
    }

    async fn head(&self) -> Result<Position, ReadError> {
        Ok(self.inner.durable_head())
    }
}

impl LogSubscriber for SledLog {
    fn subscribe(&self, after: Position) -> Subscription {
        self.inner
            .shared
            .live
            .subscribe(Arc::new(self.clone()), after)
    }
}
