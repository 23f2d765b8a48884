//! The tahc event log.
//!
//! One record per event, addressed by a global gap-free [`Position`] and by
//! `(stream, version)`. Appends are checked against an expected stream
//! version, are idempotent by event id, and are acknowledged only once
//! durable. Every record extends a BLAKE3 hash chain that [`verify`] walks.
//!
//! The capabilities are small traits ([`EventAppender`], [`StreamReader`],
//! [`LogReader`], [`LogSubscriber`]) composed into [`EventLog`]; [`SledLog`]
//! implements them on an embedded sled database, and [`conformance`] is the
//! behaviour suite every backend must pass.
//!
//! [`Position`]: tahc_events::Position

mod append_queue;
pub mod conformance;
mod error;
mod log;
mod pg_log;
pub mod record;
mod sled_log;
mod stream_versions;
mod subject_keys;
mod subscription;
mod verify;

pub use error::{AppendError, OpenError, ReadError};
pub use log::{
    Appended, EventAppender, EventLog, EventStore, ExpectedVersion, LogReader, LogSubscriber,
    SharedLog, StreamReader,
};
pub use pg_log::{ImportError, Imported, PgKeys, PgLog, PgOptions, without_password};
pub use sled_log::durability::{DiskFaults, Durability};
pub use sled_log::keys as sled_keys;
pub use sled_log::{
    DEFAULT_CACHE_BYTES, DEFAULT_RESERVE_BYTES, SledLog, SledOptions, TREE as SLED_TREE,
    WriteStats, open_db as open_sled_db, open_db_with as open_sled_db_with,
};
pub use subject_keys::{KeyError, SLED_KEYS_TREE, SledKeys, SubjectKey, SubjectKeys};
pub use subscription::{LIVE_CAPACITY, LiveBatch, LiveFeed, Subscription};
pub use verify::{Verification, Verified, verify, verify_after, verify_tail};
