//! Why a command failed, typed for the API to map onto the contract's
//! codes: `Domain` errors become `userErrors`, the rest top-level errors.

use tahc_domain::DomainError;
use tahc_events::{DecodeError, Position, StreamId};
use tahc_store::{AppendError, ReadError};

use crate::permission::Action;

/// A failed command. Nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The caller's role does not allow the action.
    #[error("forbidden: {action:?} is not allowed for this caller")]
    Forbidden {
        /// What was attempted.
        action: Action,
    },
    /// The target does not exist, or belongs to another workspace (the two
    /// are indistinguishable on purpose).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// The domain refused: the caller can fix something.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Concurrent writers kept winning; the caller may retry.
    #[error("{stream} changed concurrently too often; retry")]
    Contention {
        /// The contended stream.
        stream: StreamId,
    },
    /// The log refused or failed the append.
    #[error("event log: {0}")]
    Append(#[from] AppendError),
    /// The log could not be read.
    #[error("event log: {0}")]
    Read(#[from] ReadError),
    /// A stored event could not be decoded.
    #[error("event at position {position} cannot be decoded: {source}")]
    Decode {
        /// Where.
        position: Position,
        /// Why.
        source: DecodeError,
    },
    /// A view or a process manager's memory failed.
    #[error("view storage: {0}")]
    View(String),
    /// The subject keys personal data is sealed with could not be used.
    #[error(transparent)]
    Keys(#[from] tahc_store::KeyError),
    /// The keys to open a stored event's personal data could not be read.
    #[error(transparent)]
    KeysUnavailable(#[from] tahc_events::KeysUnavailable),
    /// A payload could not be encoded (a bug, never user input).
    #[error("cannot encode an event: {0}")]
    Encode(#[from] serde_json::Error),
}

impl From<tahc_projections::ViewError> for AppError {
    fn from(error: tahc_projections::ViewError) -> Self {
        AppError::View(error.to_string())
    }
}

impl From<tahc_projections::ProjectionError> for AppError {
    fn from(error: tahc_projections::ProjectionError) -> Self {
        AppError::View(error.to_string())
    }
}
