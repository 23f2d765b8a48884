//! Audit queries (ADMIN, AUDITOR): proof that the log was not altered.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tahc_app::history::AsOf;
use tahc_events::Position;

use super::caller;
use super::errors::coded;
use super::ids;
use super::log_events::{LogEventConnection, LogEventFilter, may_read_log};
use super::types::{Conversation, MAX_PAGE, node};

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

/// A position given as text, BAD_USER_INPUT when it is not one.
fn position(text: &str, name: &str) -> Result<Position> {
    text.trim()
        .parse()
        .map_err(|_| coded("BAD_USER_INPUT", format!("`{name}` is not a log position")))
}

fn unreadable(error: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(%error, "cannot read the log");
    coded("INTERNAL", "the log could not be read")
}

#[Object]
impl AuditQuery {
    /// The workspace's events, oldest first, after the cursor (ADMIN,
    /// AUDITOR).
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<LogEventFilter>,
    ) -> Result<LogEventConnection> {
        let caller = caller(ctx)?;
        may_read_log(&caller)?;
        let first = first.unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(coded(
                "BAD_USER_INPUT",
                format!("`first` must be between 1 and {MAX_PAGE}"),
            ));
        }
        let after = after
            .map(|a| position(&a, "after"))
            .transpose()?
            .unwrap_or(Position::START);
        let selection = filter.unwrap_or_default().select(caller.workspace_id)?;
        let node = node(ctx);
        let mut events = selection
            .page(&*node.log, after, first as usize + 1)
            .await
            .map_err(unreadable)?;
        let more = events.len() > first as usize;
        events.truncate(first as usize);
        Ok(LogEventConnection::new(events, after, more))
    }

    /// A conversation exactly as it stood just after `position`, or at
    /// time `at` (give one): status, controller, assignee and messages up to
    /// then. Null when it had not started by then (ADMIN, AUDITOR).
    async fn conversation_as_of(
        &self,
        ctx: &Context<'_>,
        id: ID,
        at: Option<DateTime<Utc>>,
        position: Option<String>,
    ) -> Result<Option<Conversation>> {
        let caller = caller(ctx)?;
        may_read_log(&caller)?;
        let point = match (at, position) {
            (Some(at), None) => AsOf::Time(at),
            (None, Some(p)) => AsOf::Position(self::position(&p, "position")?),
            _ => {
                return Err(coded(
                    "BAD_USER_INPUT",
                    "give exactly one of `at` and `position`",
                ));
            }
        };
        let Some(id) = ids::decode("Conversation", &id) else {
            return Ok(None);
        };
        let history = node(ctx)
            .conversation_as_of(caller.workspace_id, id, point)
            .await
            .map_err(unreadable)?;
        Ok(history.map(Conversation::as_of))
    }

    /// Recompute the hash chain over the whole log (ADMIN, AUDITOR).
    async fn verify_log(&self, ctx: &Context<'_>) -> Result<LogVerification> {
        let caller = caller(ctx)?;
        may_read_log(&caller)?;
        let verification = tahc_store::verify(&*node(ctx).log).await.map_err(|error| {
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
