//! The application layer of tahc: it runs the domain's decisions against
//! the log for authenticated principals.
//!
//! [`Aggregates`] loads a stream, folds it, decides, and appends with the
//! version it loaded, retrying on conflicts. [`permission`] is the one table
//! of who may do what; [`Principal`] is who is asking, always inside one
//! workspace, and a stream of another workspace is never found.

pub mod activity;
mod aggregates;
pub mod api_key;
mod applied_log;
mod clock;
mod commands;
mod compaction;
mod email_key;
mod error;
pub mod history;
mod log_selection;
mod node;
pub mod permission;
mod principal;
pub mod process;
pub mod rebuild;
mod revocations;
mod vault;

pub use activity::{Activity, ActivityKind, TeamActivity};
pub use aggregates::{Aggregates, Context, EventIds, Executed, Loaded};
pub use applied_log::AppliedLog;
pub use clock::{Clock, ManualClock, SystemClock};
pub use commands::{
    Commands, ContactNoteRef, CreatedWorkspace, Identified, IssuedAgent, SendMessage, stream,
};
pub use compaction::Compaction;
pub use email_key::EmailKey;
pub use error::AppError;
pub use log_selection::LogSelection;
pub use node::{Node, NodeError, NodeOptions, Reactions, ReadModels, not_ahead_of};
pub use permission::{Action, allows};
pub use principal::{Principal, PrincipalKind};
pub use revocations::{Revocation, Revocations, revoked_by};
pub use vault::Vault;
