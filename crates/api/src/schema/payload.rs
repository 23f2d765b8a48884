//! How every mutation answers: it runs a command, waits until the views
//! show the write (so the payload already reflects it), and reports what
//! the caller can fix as `userErrors`, the rest as top-level errors.

use std::time::Duration;

use async_graphql::{Context, ID, Result};
use tahc_app::{AppError, Executed, IssuedAgent};
use tahc_events::Position;
use uuid::Uuid;

use super::errors::{Failure, UserError, classify, coded};
use super::ids;
use super::types::node;

/// How long a mutation waits for the views to show its write.
const VIEW_PATIENCE: Duration = Duration::from_secs(5);

/// Waits until the views show `position`. When they cannot (their storage
/// is failing) the answer is UNAVAILABLE, saying the write is stored: a
/// `sendMessage` retried with the same `idempotencyKey` finds it.
async fn settled(ctx: &Context<'_>, position: Position) -> Result<()> {
    let node = node(ctx);
    if node.wait_for(position, VIEW_PATIENCE).await {
        return Ok(());
    }
    if node.views.failing() {
        return Err(coded(
            "UNAVAILABLE",
            "the write is stored, but the views cannot show it yet (their storage is failing)",
        ));
    }
    Err(coded(
        "INTERNAL",
        "the views did not catch up in time; the write is stored",
    ))
}

/// How long an erasure waits for the views' files to be rewritten.
const COMPACTION_PATIENCE: Duration = Duration::from_secs(60);

/// Waits until no file of the views holds what the erasure at `position`
/// erased (the views were compacted after it).
pub async fn compacted(ctx: &Context<'_>, position: Position) -> Result<()> {
    if node(ctx)
        .erasure_compacted(position, COMPACTION_PATIENCE)
        .await
    {
        return Ok(());
    }
    Err(coded(
        "UNAVAILABLE",
        "the erasure is stored and shown; rewriting the views' files after it is taking over a minute and goes on",
    ))
}

/// A command's result that knows where its write landed.
pub trait Written {
    /// The last position written; `None` when unknown (the payload then
    /// waits for the head of the log, which is at or after it).
    fn written(&self) -> Option<Position>;
}

impl<S> Written for Executed<S> {
    fn written(&self) -> Option<Position> {
        self.appended.map(|a| a.last_position)
    }
}

impl<T, S> Written for (T, Executed<S>) {
    fn written(&self) -> Option<Position> {
        self.1.written()
    }
}

/// An identification touches several streams; its payload waits for the
/// head of the log.
impl Written for tahc_app::Identified {
    fn written(&self) -> Option<Position> {
        None
    }
}

impl Written for IssuedAgent {
    fn written(&self) -> Option<Position> {
        self.appended.map(|a| a.last_position)
    }
}

/// Runs a command. `Ok(Ok(_))` once the views show its write;
/// `Ok(Err(_))` for what the caller can fix (a missing target blames
/// `not_found_field`); `Err(_)` for the rest.
pub async fn run<T: Written>(
    ctx: &Context<'_>,
    not_found_field: &str,
    command: impl Future<Output = std::result::Result<T, AppError>>,
) -> Result<std::result::Result<T, UserError>> {
    match command.await {
        Ok(done) => {
            let position = match done.written() {
                Some(position) => position,
                None => node(ctx).log.head().await.unwrap_or_default(),
            };
            settled(ctx, position).await?;
            Ok(Ok(done))
        }
        Err(error) => match classify(error, not_found_field) {
            Failure::User(user) => Ok(Err(user)),
            Failure::Top(top) => Err(top),
        },
    }
}

/// The uuid of a global id of `kind` given as input `field`, or the user
/// error saying it names nothing.
pub fn input_id(kind: &str, id: &ID, field: &str) -> std::result::Result<Uuid, UserError> {
    ids::decode(kind, id).ok_or_else(|| UserError::not_found(&[field], format!("not a {kind} id")))
}

/// The user errors of a payload: none, or the one that stopped it.
#[must_use]
pub fn errors_of<T>(outcome: &std::result::Result<T, UserError>) -> Vec<UserError> {
    outcome.as_ref().err().cloned().into_iter().collect()
}

/// Runs a command on the target named by a global id of `kind` in input
/// `field`; the target's uuid comes back with the result.
pub async fn run_on<T: Written, F>(
    ctx: &Context<'_>,
    kind: &str,
    id: &ID,
    field: &str,
    command: impl FnOnce(Uuid) -> F,
) -> Result<std::result::Result<(Uuid, T), UserError>>
where
    F: Future<Output = std::result::Result<T, AppError>>,
{
    let target = match input_id(kind, id, field) {
        Ok(target) => target,
        Err(error) => return Ok(Err(error)),
    };
    Ok(run(ctx, field, command(target))
        .await?
        .map(|done| (target, done)))
}
