//! Audit queries (ADMIN, AUDITOR): proof that the log was not altered.

use std::time::{Duration, Instant};

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tahc_app::history::AsOf;
use tahc_events::Position;
use tahc_store::{LogReader, Verification, Verified, verify_after};

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

/// How often `verifyLog` walks the whole chain again.
const FULL_WALK_EVERY: Duration = Duration::from_secs(60);

/// The node's walks of the hash chain: one at a time, and the prefix the
/// last whole walk found good, so that a request (or a thousand aliases of
/// one) costs the events appended since, not the whole log.
#[derive(Default)]
pub struct ChainWalks {
    /// When the last whole walk started, and how far the chain is known good.
    last: tokio::sync::Mutex<Option<(Instant, Verified)>>,
}

impl ChainWalks {
    /// Verifies the chain: the whole of it when the last whole walk is over
    /// [`FULL_WALK_EVERY`] old (or found a break), else what came after.
    async fn verify(&self, log: &dyn LogReader) -> Result<Verification, tahc_store::ReadError> {
        let mut last = self.last.lock().await;
        let (started, from) = match *last {
            Some((started, verified)) if started.elapsed() < FULL_WALK_EVERY => (started, verified),
            _ => (Instant::now(), Verified::NOTHING),
        };
        let verification = verify_after(log, from).await?;
        *last = verification
            .ok()
            .then_some((started, verification.verified));
        Ok(verification)
    }
}

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

    /// Recompute the hash chain over the whole log (ADMIN, AUDITOR). The
    /// whole chain is walked at most once a minute; in between, the events
    /// appended since the last walk are checked against it. One walk runs
    /// at a time: callers asking meanwhile share it.
    #[graphql(complexity = 50)]
    async fn verify_log(&self, ctx: &Context<'_>) -> Result<LogVerification> {
        let caller = caller(ctx)?;
        may_read_log(&caller)?;
        let verification = ctx
            .data_unchecked::<ChainWalks>()
            .verify(&*node(ctx).log)
            .await
            .map_err(|error| {
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
