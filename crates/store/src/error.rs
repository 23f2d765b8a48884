//! Typed errors of each log operation: callers match on variants, never on
//! strings.

use tahc_events::{Position, StreamId};
use uuid::Uuid;

use crate::log::ExpectedVersion;
use crate::record::{InvalidEvent, RecordError};

/// Why an append was refused or failed. Nothing of a refused append is
/// stored.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The stream is not at the version the caller expected.
    #[error("{stream}: expected {expected}, but the stream is at version {actual}")]
    Conflict {
        /// The stream.
        stream: StreamId,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's current version (0: no such stream).
        actual: u64,
    },
    /// An event id of this append is already stored, but not as this same
    /// append: ids must be unique.
    #[error("event {event_id} is already stored as part of another append")]
    DuplicateEventId {
        /// The reused id.
        event_id: Uuid,
    },
    /// An append must carry at least one event.
    #[error("an append needs at least one event")]
    Empty,
    /// One of the events does not fit the record format.
    #[error("event {index} of the append: {reason}")]
    InvalidEvent {
        /// Its index in the append.
        index: usize,
        /// What is wrong.
        reason: InvalidEvent,
    },
    /// The log is shut down.
    #[error("the event log is closed")]
    Closed,
    /// The events were written but could not be made durable: the outcome is
    /// unknown. Retrying with the same event ids tells: it returns the
    /// original result once they are stored.
    #[error(
        "could not make the append durable (outcome unknown; retry with the same event ids): {0}"
    )]
    NotDurable(String),
    /// The storage refused the write; nothing was stored.
    #[error("storage error: {0}")]
    Storage(String),
    /// The disk holding the log is nearly full: appends are refused, and
    /// nothing was stored, until space is freed.
    #[error(
        "the disk holding the log has {free_bytes} bytes free, less than the {reserve_bytes} kept in reserve: nothing was stored"
    )]
    DiskFull {
        /// Bytes free on the file system.
        free_bytes: u64,
        /// Bytes the log keeps free.
        reserve_bytes: u64,
    },
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The stored bytes at a position are not a valid record.
    #[error("record at position {position} is corrupt: {source}")]
    Corrupt {
        /// Where.
        position: Position,
        /// What is wrong with the bytes.
        source: RecordError,
    },
    /// An index points at a record that is missing.
    #[error("index points at missing position {0}")]
    Missing(Position),
    /// The storage failed.
    #[error("storage error: {0}")]
    Storage(String),
}

/// Why a log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the data directory.
    #[error("the data directory {path} is in use by another process")]
    Locked {
        /// The directory.
        path: String,
    },
    /// The existing log is not readable.
    #[error("the log cannot be opened: {0}")]
    Corrupt(#[from] ReadError),
    /// The storage failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// The log's files are damaged: the storage cannot open them.
    #[error("the log's files are damaged ({0}): restore the data directory from a backup")]
    Damaged(String),
    /// There is no log where one was expected: a command that only reads
    /// creates none by accident.
    #[error("no tahc event log in {0}")]
    NoLog(String),
    /// The log's schema is older than this binary's, and the command does
    /// not migrate it.
    #[error(
        "the log's schema is at version {found}, this tahc needs {needed}: start a node (tahc serve) on it once to migrate it"
    )]
    Outdated {
        /// The schema version found.
        found: i32,
        /// The version this binary reads.
        needed: i32,
    },
}
