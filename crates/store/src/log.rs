//! The capabilities of an event log, as small traits: an appender, a stream
//! reader, a log reader and a subscriber, composed into [`EventLog`]. Code
//! that only reads asks for a reader; the backends implement them all.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tahc_events::{NewEvent, Position, RecordedEvent, StreamId};

use crate::error::{AppendError, ReadError};
use crate::subject_keys::{KeyError, SubjectKeys};
use crate::subscription::Subscription;

/// The stream version an append expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` (0: no stream) satisfies the expectation.
    #[must_use]
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(version) => actual == version,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Position of the first event.
    pub first_position: Position,
    /// Position of the last event.
    pub last_position: Position,
    /// The stream's version after the append: pass it as `Exact` next time.
    pub stream_version: u64,
}

/// Appends events to a stream, durably, in one global order.
#[async_trait]
pub trait EventAppender: Send + Sync {
    /// Appends `events` to `stream` if it is at the `expected` version. All or
    /// nothing; returns once the events are durable. Appending events whose
    /// ids are already stored returns the original result.
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError>;
}

/// Reads one stream in version order.
#[async_trait]
pub trait StreamReader: Send + Sync {
    /// Up to `limit` events of `stream` with a version above `after_version`.
    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError>;
}

/// Reads the whole log in position order.
#[async_trait]
pub trait LogReader: Send + Sync {
    /// Up to `limit` events with a position above `after`, in order, without
    /// gaps. Only durable events are ever returned.
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError>;

    /// The last durable position (`Position::START` for an empty log).
    async fn head(&self) -> Result<Position, ReadError>;
}

/// Follows the log: catches up from a position, then goes live.
pub trait LogSubscriber: Send + Sync {
    /// Every event after `after`, in order, with no gap and no duplicate,
    /// first from storage and then live as they are appended.
    fn subscribe(&self, after: Position) -> Subscription;
}

/// A complete event log: every capability at once.
pub trait EventLog: EventAppender + StreamReader + LogReader + LogSubscriber {}

impl<T: EventAppender + StreamReader + LogReader + LogSubscriber> EventLog for T {}

/// A shared, type-erased log, as the application holds it.
pub type SharedLog = Arc<dyn EventLog>;

/// The log a node runs on: every capability of an [`EventLog`], the keys
/// that seal personal data beside it, the secrets its nodes share, and an
/// orderly close. [`SledLog`](crate::SledLog) serves one node;
/// [`PgLog`](crate::PgLog) serves several.
#[async_trait]
pub trait EventStore: EventLog {
    /// The subject keys kept beside this log.
    fn subject_keys(&self) -> Arc<dyn SubjectKeys>;

    /// The 256-bit secret called `name` that every node of this log shares
    /// (the key visitor tokens are signed with must be the same on every
    /// node), created on first use. `None` when the log has a single node,
    /// which keeps its secrets in its data directory.
    async fn shared_secret(&self, name: &str) -> Result<Option<[u8; 32]>, KeyError>;

    /// Stops taking appends and ends the live feed; returns once everything
    /// accepted is durable.
    async fn close(&self);
}
