//! The PostgreSQL event log: several nodes append to one database, and each
//! reads every event in one gap-free global order.
//!
//! **Order.** Every append transaction locks the one head row
//! (`SELECT … FOR UPDATE`, or the `UPDATE` that moves it), takes the next positions, inserts its records
//! and moves the head before it commits. The lock is held until the commit,
//! so a position is handed out only after every lower one has committed: a
//! reader asking for `position > last ORDER BY position` can never skip an
//! event that commits later (the gap that made projections silently miss
//! events in Marten, Eventuous and others with sequence-allocated
//! positions). **Throughput** comes from group commit: each node's writer
//! takes every append waiting and runs them as one transaction, one lock
//! and one WAL flush for all.
//!
//! **Live.** A node publishes every committed event, in order and once, to
//! its live feed: its writer publishes its own rounds as they commit, and
//! the node reads the table for the rest when another node's
//! `NOTIFY tahc_log` arrives, when its writer's round did not follow on
//! from what was published, and at a short poll that covers lost
//! notifications and a dropped listener.
//!
//! Records are the same canonical bytes as in the sled log, hash chain
//! included, so `verify` and every reader work unchanged.

mod import;
mod keys;
mod schema;
mod writer;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tahc_events::{NewEvent, Position, RecordedEvent, StreamId};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use crate::append_queue::AppendQueue;
use crate::error::{AppendError, OpenError, ReadError};
use crate::log::{
    Appended, EventAppender, EventStore, ExpectedVersion, LogReader, LogSubscriber, StreamReader,
};
use crate::record;
use crate::subject_keys::{KeyError, SubjectKeys};
use crate::subscription::{LiveFeed, Subscription};
pub use import::{ImportError, Imported};
pub use keys::PgKeys;
use writer::Writer;

/// How to connect.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The schema the log's tables live in (`search_path`); `None`: the
    /// database's default (`public`).
    pub schema: Option<String>,
    /// How often a node reads the table for what other nodes appended,
    /// should a notification be lost.
    pub poll: Duration,
    /// Batches the live channel holds before a slow subscriber lags (and
    /// reads the table instead).
    pub live_capacity: usize,
    /// Create the schema or bring it up to date, as a node does. `false`
    /// for commands that only read an existing log: a database without one
    /// is then [`OpenError::NoLog`], an older schema
    /// [`OpenError::Outdated`], and nothing is created.
    pub migrate: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            schema: None,
            poll: Duration::from_millis(200),
            live_capacity: crate::subscription::LIVE_CAPACITY,
            migrate: true,
        }
    }
}

/// The log in a PostgreSQL database. Clones share one connection set.
#[derive(Clone)]
pub struct PgLog {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    reader: ReadConnection,
    keys: PgKeys,
    jobs: AppendQueue,
    publisher: Arc<Publisher>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in self.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
    }
}

fn storage(error: &tokio_postgres::Error) -> ReadError {
    ReadError::Storage(error.to_string())
}

fn unreachable_database(url_shown: &str, error: &tokio_postgres::Error) -> OpenError {
    OpenError::Storage(format!("cannot use the database {url_shown}: {error}"))
}

impl PgLog {
    /// Connects to the database at `url` (a `postgres://` URL), creating or
    /// migrating the schema (see [`PgOptions::migrate`] for commands that
    /// must not).
    pub async fn connect(url: &str) -> Result<Self, OpenError> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// [`PgLog::connect`] with options.
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<Self, OpenError> {
        let shown = without_password(url);
        let mut config = Config::from_str(url)
            .map_err(|e| OpenError::Storage(format!("not a PostgreSQL URL ({shown}): {e}")))?;
        if let Some(schema) = &options.schema {
            config.options(format!("-c search_path={schema}"));
        }
        let connect = |config: Config| async move { open(&config).await };
        let mut setup = connect(config.clone())
            .await
            .map_err(|e| unreachable_database(&shown, &e))?;
        if options.migrate {
            schema::migrate(&mut setup)
                .await
                .map_err(|e| unreachable_database(&shown, &e))?;
        } else {
            match schema::version(&setup)
                .await
                .map_err(|e| unreachable_database(&shown, &e))?
            {
                None => return Err(OpenError::NoLog(format!("the database {shown}"))),
                Some(found) if found < schema::VERSION => {
                    return Err(OpenError::Outdated {
                        found,
                        needed: schema::VERSION,
                    });
                }
                Some(_) => {}
            }
        }
        let writer_client = setup;
        let reader = connect(config.clone())
            .await
            .map_err(|e| unreachable_database(&shown, &e))?;
        let (jobs, queued) = AppendQueue::new(4096);
        let inner = Arc::new(Inner {
            config: config.clone(),
            reader: ReadConnection {
                config: config.clone(),
                client: Mutex::new(Arc::new(reader)),
            },
            keys: PgKeys::new(config.clone()),
            jobs,
            publisher: Arc::new(Publisher {
                live: LiveFeed::with_capacity(options.live_capacity),
                published: Mutex::new(Position(0)),
                claimed: AtomicU64::new(0),
                wake: Notify::new(),
            }),
            tasks: Mutex::new(Vec::new()),
        });
        let log = PgLog { inner };
        let publisher = log.inner.publisher.clone();
        let writer = Writer::new(writer_client, config.clone(), publisher.clone());
        let listener = listen(&config, publisher.clone())
            .await
            .map_err(|e| unreachable_database(&shown, &e))?;
        *publisher.published.lock().expect("published lock") = log
            .head()
            .await
            .map_err(|e| OpenError::Storage(e.to_string()))?;
        let tasks = vec![
            tokio::spawn(writer.run(queued)),
            tokio::spawn(follow(Arc::downgrade(&log.inner), options.poll, listener)),
        ];
        *log.inner.tasks.lock().expect("tasks lock") = tasks;
        Ok(log)
    }

    /// The records `sql` selects as `(position, record)` rows, decoded and
    /// checked against the position they are stored at.
    async fn records(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let rows = self
            .inner
            .reader
            .client()
            .await?
            .query(sql, params)
            .await
            .map_err(|e| storage(&e))?;
        rows.into_iter()
            .map(|row| {
                let position = Position(row.get::<_, i64>(0) as u64);
                let bytes: &[u8] = row.get(1);
                let record = record::decode(bytes)
                    .map_err(|source| ReadError::Corrupt { position, source })?;
                if record.position == position {
                    Ok(record)
                } else {
                    Err(ReadError::Missing(position))
                }
            })
            .collect()
    }
}

/// The connection a node reads the log with, opened again when the
/// database dropped it (a restart, a failover, an idle timeout).
struct ReadConnection {
    config: Config,
    client: Mutex<Arc<Client>>,
}

impl ReadConnection {
    /// The open connection, reconnecting first when it was lost.
    async fn client(&self) -> Result<Arc<Client>, ReadError> {
        let current = self.client.lock().expect("reader lock").clone();
        if !current.is_closed() {
            return Ok(current);
        }
        let fresh = Arc::new(open(&self.config).await.map_err(|e| storage(&e))?);
        *self.client.lock().expect("reader lock") = fresh.clone();
        Ok(fresh)
    }
}

/// A read's `limit` as SQL takes it.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Opens one connection, its driver running in the background.
async fn open(config: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "a PostgreSQL connection of the log ended");
        }
    });
    Ok(client)
}

/// Hands committed events to the node's live feed exactly once and in
/// order, whichever task found them: the writer its own rounds, the
/// follower everything else.
struct Publisher {
    live: LiveFeed,
    /// The last position published.
    published: Mutex<Position>,
    /// The head of this node's writer's latest round, committed or on its
    /// way: notifications up to it are the writer's to publish.
    claimed: AtomicU64,
    /// Wakes the follower to read the table.
    wake: Notify,
}

impl Publisher {
    /// The last position published.
    fn published(&self) -> Position {
        *self.published.lock().expect("published lock")
    }

    /// This node's writer is committing up to `head`.
    fn claim(&self, head: Position) {
        self.claimed.fetch_max(head.0, Ordering::Relaxed);
    }

    /// This node's writer's claim is void (its round stored nothing, or
    /// failed): every notification past what was published is news.
    fn release(&self) {
        self.claimed.store(0, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Whether a notification that the log's head is at `head` is news:
    /// past what was published and what this node's writer is committing.
    fn is_news(&self, head: Position) -> bool {
        head > self.published() && head.0 > self.claimed.load(Ordering::Relaxed)
    }

    /// Publishes what of `records` (consecutive, in order) comes after
    /// what was published; when they start past the next position, wakes
    /// the follower to read the events in between first.
    fn publish(&self, records: Vec<RecordedEvent>) {
        let mut published = self.published.lock().expect("published lock");
        let fresh: Vec<RecordedEvent> = records
            .into_iter()
            .filter(|record| record.position > *published)
            .collect();
        let Some(first) = fresh.first() else {
            return;
        };
        if first.position.0 != published.0 + 1 {
            self.wake.notify_one();
            return;
        }
        *published = fresh.last().map_or(*published, |r| r.position);
        self.live.publish(fresh.into());
    }
}

/// A connection that listens on `tahc_log` and wakes the follower when a
/// notification names a head past what was published; the client must be
/// kept to keep listening.
async fn listen(
    config: &Config,
    publisher: Arc<Publisher>,
) -> Result<Client, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notice)) => match notice.payload().parse() {
                    Ok(head) if !publisher.is_news(Position(head)) => {}
                    _ => publisher.wake.notify_one(),
                },
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the log's listener lost its connection; polling covers it");
                    return;
                }
            }
        }
    });
    client.batch_execute("LISTEN tahc_log").await?;
    Ok(client)
}

/// Publishes every committed event the writer did not, in order, whenever
/// woken (by this node's writer or another node's notification) and at
/// every `poll`.
async fn follow(inner: std::sync::Weak<Inner>, poll: Duration, mut listener: Client) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let (publisher, config) = (strong.publisher.clone(), strong.config.clone());
        drop(strong);
        if listener.is_closed() {
            // Listen again; until then (and for what was notified
            // meanwhile) the poll and the read below cover it.
            match listen(&config, publisher.clone()).await {
                Ok(fresh) => listener = fresh,
                Err(error) => tracing::warn!(%error, "the log's listener cannot reconnect yet"),
            }
        }
        let _ = tokio::time::timeout(poll, publisher.wake.notified()).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let log = PgLog { inner: strong };
        loop {
            match log.read_all(publisher.published(), 512).await {
                Ok(records) if records.is_empty() => break,
                Ok(records) => {
                    publisher.publish(records);
                }
                Err(error) => {
                    tracing::warn!(%error, "the log's follower cannot read; retrying");
                    break;
                }
            }
        }
    }
}

/// `url` with any password replaced, for messages.
#[must_use]
pub fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The log of several nodes: they share its keys and secrets.
#[async_trait]
impl EventStore for PgLog {
    fn subject_keys(&self) -> Arc<dyn SubjectKeys> {
        Arc::new(self.inner.keys.clone())
    }

    async fn shared_secret(&self, name: &str) -> Result<Option<[u8; 32]>, KeyError> {
        let fresh: [u8; 32] = rand::random();
        let failed = |e: tokio_postgres::Error| KeyError::Storage(e.to_string());
        let reader = self
            .inner
            .reader
            .client()
            .await
            .map_err(|e| KeyError::Storage(e.to_string()))?;
        let stored = "SELECT value FROM tahc_secrets WHERE name = $1";
        // Read first: a secret is written once, and a reader's role may
        // not write at all.
        let row = match reader.query_opt(stored, &[&name]).await.map_err(failed)? {
            Some(row) => row,
            None => {
                // The first node to ask stores its fresh secret; all read
                // the one stored.
                reader
                    .execute(
                        "INSERT INTO tahc_secrets (name, value) VALUES ($1, $2)
                         ON CONFLICT (name) DO NOTHING",
                        &[&name, &&fresh[..]],
                    )
                    .await
                    .map_err(failed)?;
                reader.query_one(stored, &[&name]).await.map_err(failed)?
            }
        };
        let value: &[u8] = row.get(0);
        value.try_into().map(Some).map_err(|_| KeyError::Malformed {
            subject: format!("secret {name}"),
        })
    }

    /// Subscriptions finish once they have caught up; everything
    /// acknowledged is committed already.
    async fn close(&self) {
        self.inner.jobs.close();
        self.inner.publisher.live.close();
        let tasks: Vec<_> = self
            .inner
            .tasks
            .lock()
            .expect("tasks lock")
            .drain(..)
            .collect();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

#[async_trait]
impl EventAppender for PgLog {
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
impl StreamReader for PgLog {
    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        self.records(
            "SELECT position, record FROM tahc_events
             WHERE stream_id = $1 AND stream_version > $2
             ORDER BY stream_version LIMIT $3",
            &[&stream.as_str(), &(after_version as i64), &sql_limit(limit)],
        )
        .await
    }
}

#[async_trait]
impl LogReader for PgLog {
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let records = self
            .records(
                "SELECT position, record FROM tahc_events
                 WHERE position > $1 ORDER BY position LIMIT $2",
                &[&(after.0 as i64), &sql_limit(limit)],
            )
            .await?;
        // Positions are consecutive from `after`; anything else is a hole.
        for (offset, record) in records.iter().enumerate() {
            let expected = Position(after.0 + offset as u64 + 1);
            if record.position != expected {
                return Err(ReadError::Missing(expected));
            }
        }
        Ok(records)
    }

    async fn head(&self) -> Result<Position, ReadError> {
        let row = self
            .inner
            .reader
            .client()
            .await?
            .query_one("SELECT position FROM tahc_log_head WHERE id = 1", &[])
            .await
            .map_err(|e| storage(&e))?;
        Ok(Position(row.get::<_, i64>(0) as u64))
    }
}

impl LogSubscriber for PgLog {
    fn subscribe(&self, after: Position) -> Subscription {
        self.inner
            .publisher
            .live
            .subscribe(Arc::new(self.clone()), after)
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn messages_never_show_a_password() {
        assert_eq!(
            without_password("postgres://tahc:secret@db:5432/tahc"),
            "postgres://tahc:***@db:5432/tahc"
        );
        assert_eq!(
            without_password("postgres://127.0.0.1/test"),
            "postgres://127.0.0.1/test"
        );
    }
}
