//! Why the domain refuses a command: typed, so callers match on variants,
//! and each with the public error code the API reports.

use tahc_events::{Controller, ConversationStatus};

/// The public code of a refusal, as the GraphQL contract's `UserErrorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Input the caller can correct.
    Invalid,
    /// The thing does not exist (or is not visible to the caller).
    NotFound,
    /// Unique value already in use.
    Taken,
    /// The visitor is blocked.
    Blocked,
    /// The state does not allow this now.
    InvalidTransition,
    /// A concurrent change won; retry.
    Conflict,
    /// The caller may not do this.
    Forbidden,
}

/// A command the domain refused. Nothing was decided.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// The target does not exist yet.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// It exists already.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What.
        what: &'static str,
    },
    /// An input field is wrong.
    #[error("{field}: {reason}")]
    Invalid {
        /// The input field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A unique value is in use.
    #[error("{field} is already taken")]
    Taken {
        /// The field.
        field: &'static str,
    },
    /// The visitor is blocked.
    #[error("the visitor is blocked")]
    Blocked,
    /// The AI may not post while a human is in control, and a human may not
    /// answer publicly while the AI is (take over first).
    #[error("{controller:?} is in control of this conversation")]
    NotInControl {
        /// Who is in control.
        controller: Controller,
    },
    /// The conversation's status does not allow this.
    #[error("cannot {action} a {status:?} conversation")]
    WrongStatus {
        /// What was attempted.
        action: &'static str,
        /// The current status.
        status: ConversationStatus,
    },
    /// Another state rule forbids this now.
    #[error("cannot {action}: {reason}")]
    InvalidTransition {
        /// What was attempted.
        action: &'static str,
        /// Why not.
        reason: &'static str,
    },
    /// The caller may not do this to this target.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why not.
        reason: &'static str,
    },
}

impl DomainError {
    /// The public code of this refusal.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            DomainError::NotFound { .. } => ErrorCode::NotFound,
            DomainError::AlreadyExists { .. } => ErrorCode::Conflict,
            DomainError::Invalid { .. } => ErrorCode::Invalid,
            DomainError::Taken { .. } => ErrorCode::Taken,
            DomainError::Blocked => ErrorCode::Blocked,
            DomainError::NotInControl { .. }
            | DomainError::WrongStatus { .. }
            | DomainError::InvalidTransition { .. } => ErrorCode::InvalidTransition,
            DomainError::Forbidden { .. } => ErrorCode::Forbidden,
        }
    }

    /// An `Invalid` error.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
