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

/// Gives every top-level error an `extensions.code`: a value that does
/// not coerce to its argument's type (an `Int` out of range, a malformed
/// `DateTime`) is BAD_USER_INPUT; any other uncoded error from a resolver
/// is an unexpected failure: logged, and answered INTERNAL without its
/// details.
pub(crate) struct ErrorCodes;

impl async_graphql::extensions::ExtensionFactory for ErrorCodes {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(ErrorCodes)
    }
}

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for ErrorCodes {
    async fn execute(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        let mut response = next.run(ctx, operation_name).await;
        for error in &mut response.errors {
            code_uncoded(error);
        }
        response
    }
}

/// How async-graphql's own errors about a request's input begin: values
/// that do not coerce, variables not given, operations it cannot run.
const INPUT_ERRORS: &[&str] = &[
    "Failed to parse",
    "Invalid value for argument",
    "Variable ",
    "Subscriptions are not supported",
    "Unknown operation",
    "Operation name required",
];

/// Gives a request refused before it ran (parse and validation errors,
/// which carry no code) BAD_USER_INPUT, as GraphQL over HTTP does.
pub(crate) fn code_refusal(error: &mut async_graphql::ServerError) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", "BAD_USER_INPUT");
    }
}

/// Sets the code of an error that has none.
fn code_uncoded(error: &mut async_graphql::ServerError) {
    if error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some())
    {
        return;
    }
    let code = if INPUT_ERRORS
        .iter()
        .any(|prefix| error.message.starts_with(prefix))
    {
        "BAD_USER_INPUT"
    } else {
        tracing::error!(message = %error.message, path = ?error.path, "a resolver failed");
        error.message = "internal error".to_owned();
        "INTERNAL"
    };
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncoded_errors_get_a_code_and_internal_ones_lose_their_details() {
        let mut coercion = async_graphql::ServerError::new(
            "Failed to parse \"Int\": Only integers from -2147483648 to 2147483647 are accepted.",
            None,
        );
        code_uncoded(&mut coercion);
        assert_eq!(
            coercion.extensions.as_ref().unwrap().get("code"),
            Some(&async_graphql::Value::from("BAD_USER_INPUT"))
        );
        let mut failure = async_graphql::ServerError::new("IO error: /data/views/db", None);
        code_uncoded(&mut failure);
        assert_eq!(failure.message, "internal error");
        assert_eq!(
            failure.extensions.as_ref().unwrap().get("code"),
            Some(&async_graphql::Value::from("INTERNAL"))
        );
        let mut coded = coded("NOT_FOUND", "no such thing").into_server_error(Default::default());
        code_uncoded(&mut coded);
        assert_eq!(coded.message, "no such thing");
    }
}
