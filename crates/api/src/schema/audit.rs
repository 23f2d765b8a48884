//! Audit queries (ADMIN, AUDITOR): proof that the log was not altered.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::caller;
use super::errors::coded;
use super::log_events::may_read_log;
use super::types::node;

/// The outcome of recomputing the hash chain.
#[derive(SimpleObject)]
pub struct LogVerification {
    /// Whether every record is intact and chained to the one before.
    ok: bool,
    /// Records checked and found good (the whole log: the chain spans every
    /// workspace).
    checked_events: i32,
    /// The first position whose hash does not match, when not ok.
    first_bad_position: Option<String>,
}

/// Audit queries.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Recompute the hash chain over the whole log (ADMIN, AUDITOR).
    async fn verify_log(&self, ctx: &Context<'_>) -> Result<LogVerification> {
        let caller = caller(ctx)?;
        may_read_log(&caller)?;
        let verification = node(ctx).log.verify().await.map_err(|error| {
            tracing::error!(%error, "cannot read the log to verify it");
            coded("INTERNAL", "the log could not be read")
        })?;
        Ok(LogVerification {
            ok: verification.ok(),
            checked_events: i32::try_from(verification.checked).unwrap_or(i32::MAX),
            first_bad_position: verification.first_bad.map(|p| p.to_string()),
        })
    }
}
