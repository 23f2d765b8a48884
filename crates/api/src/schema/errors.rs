//! Errors as the contract spells them: `userErrors` for what the caller can
//! fix, top-level errors with `extensions.code` for the rest. Unexpected
//! failures are logged and reported as INTERNAL, without details.

use async_graphql::{Enum, ErrorExtensions, SimpleObject};
use tahc_app::AppError;
use tahc_domain::{DomainError, ErrorCode};
use tahc_store::AppendError;

/// The contract's `UserErrorCode`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserErrorCode {
    /// Input the caller can correct.
    Invalid,
    /// The target does not exist (or is not visible).
    NotFound,
    /// A unique value is in use.
    Taken,
    /// The visitor is blocked.
    Blocked,
    /// The state does not allow it now.
    InvalidTransition,
    /// A concurrent change won.
    Conflict,
    /// Not allowed for this caller.
    Forbidden,
}

/// One thing the caller can fix.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct UserError {
    /// Path to the input field at fault, e.g. `["input", "email"]`.
    pub field: Option<Vec<String>>,
    /// What is wrong.
    pub message: String,
    /// Its code.
    pub code: UserErrorCode,
}

impl UserError {
    /// The input at `path` (under `input`) names nothing the caller can see.
    #[must_use]
    pub fn not_found(path: &[&str], message: impl Into<String>) -> Self {
        UserError {
            field: Some(
                std::iter::once("input")
                    .chain(path.iter().copied())
                    .map(str::to_owned)
                    .collect(),
            ),
            message: message.into(),
            code: UserErrorCode::NotFound,
        }
    }
}

/// A top-level error with the contract's `extensions.code`.
pub fn coded(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

/// The caller gave no (valid) credentials.
pub fn unauthenticated() -> async_graphql::Error {
    coded("UNAUTHENTICATED", "missing or invalid credentials")
}

/// How a failed command reaches the caller.
pub enum Failure {
    /// Fixable: goes into `userErrors`.
    User(UserError),
    /// Not fixable by the caller: a top-level error.
    Top(async_graphql::Error),
}

/// Sorts an application error into a user error or a top-level error.
#[must_use]
pub fn classify(error: AppError, not_found_field: &str) -> Failure {
    let user = |code, field: Option<String>, message: String| {
        Failure::User(UserError {
            field: field.map(|f| vec!["input".to_owned(), f]),
            message,
            code,
        })
    };
    match error {
        AppError::Domain(domain) => {
            let field = match &domain {
                DomainError::Invalid { field, .. } | DomainError::Taken { field } => {
                    Some((*field).to_owned())
                }
                _ => None,
            };
            let code = match domain.code() {
                ErrorCode::Invalid => UserErrorCode::Invalid,
                ErrorCode::NotFound => UserErrorCode::NotFound,
                ErrorCode::Taken => UserErrorCode::Taken,
                ErrorCode::Blocked => UserErrorCode::Blocked,
                ErrorCode::InvalidTransition => UserErrorCode::InvalidTransition,
                ErrorCode::Conflict => UserErrorCode::Conflict,
                ErrorCode::Forbidden => UserErrorCode::Forbidden,
            };
            user(code, field, domain.to_string())
        }
        AppError::NotFound { what } => Failure::User(UserError::not_found(
            &[not_found_field],
            format!("{what} not found"),
        )),
        AppError::Forbidden { .. } => {
            Failure::Top(coded("FORBIDDEN", "not allowed for this caller"))
        }
        AppError::Contention { .. } => {
            Failure::Top(coded("CONFLICT", "too many concurrent changes; retry"))
        }
        AppError::Append(AppendError::DiskFull { .. }) => Failure::Top(coded(
            "UNAVAILABLE",
            "the disk is full: nothing was written; retry later",
        )),
        AppError::Append(error @ (AppendError::NotDurable(_) | AppendError::Storage(_))) => {
            tracing::error!(%error, "the event log cannot store writes");
            Failure::Top(coded(
                "UNAVAILABLE",
                "storage is failing (the disk may be full): nothing was written; retry later",
            ))
        }
        other => {
            tracing::error!(error = %other, "command failed");
            Failure::Top(coded("INTERNAL", "internal error"))
        }
    }
}
