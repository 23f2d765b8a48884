//! Process managers: reactions to the log that issue commands.
//!
//! Each follows the log from its checkpoint, reacts to one event at a time,
//! and stores what it remembers together with the new checkpoint in one
//! atomic write. Its commands run as the system, caused by the event, with
//! event ids derived from it: a reaction that runs twice (after a crash
//! between its command and its checkpoint) appends nothing twice.

mod assignments;
mod email_capture;
mod erasure;
mod links;
mod orchestration;
mod snooze;

use std::future::Future;
use std::time::Duration;

use tahc_events::{Actor, Event, EventMeta, Position, RecordedEvent};
use tahc_projections::{View, ViewChanges, Views};
use uuid::Uuid;

use crate::aggregates::{Context, EventIds};
use crate::commands::Commands;
use crate::error::AppError;

pub use assignments::Assignments;
pub use email_capture::EmailCapture;
pub use erasure::Erasure;
pub use links::Links;
pub use orchestration::Orchestration;
pub use snooze::SnoozeTimer;

/// Events read per page while catching up.
const PAGE: usize = 256;

/// One process manager's reaction to events.
pub trait Reaction: Send + Sync + 'static {
    /// Its name, also the name of its memory and checkpoint.
    const NAME: &'static str;

    /// Reacts to one event: issues commands through `commands`, reads what
    /// it remembers from `memory`, and records changes in `changes` (stored
    /// with the checkpoint once the reaction succeeded). Domain refusals of
    /// its commands are not failures: the reaction had nothing to do.
    fn react<'a>(
        &'a self,
        reactor: &'a Reactor,
        record: &'a RecordedEvent,
        event: &'a Event,
        memory: &'a View,
        changes: &'a mut ViewChanges,
    ) -> impl Future<Output = Result<(), AppError>> + Send + 'a;
}

/// What reactions act through.
#[derive(Clone)]
pub struct Reactor {
    /// The service's commands.
    pub commands: Commands,
}

impl Reactor {
    /// The context of a command caused by `record`: the system acts, in the
    /// event's workspace and correlation, with ids derived from the event and
    /// `purpose` (distinct per command a reaction issues for one event).
    #[must_use]
    pub fn caused_by(&self, record: &RecordedEvent, purpose: &str) -> Context {
        Context {
            meta: EventMeta {
                actor: Actor::system(),
                workspace_id: record.workspace_id,
                occurred_at: self.commands.now(),
                correlation_id: record.correlation_id,
                causation_id: Some(record.event_id),
            },
            ids: EventIds::DerivedFrom(self.derived_id(record, purpose)),
        }
    }

    /// A stable id for something a reaction to `record` creates for
    /// `purpose` (a message, the seed of event ids).
    #[must_use]
    pub fn derived_id(&self, record: &RecordedEvent, purpose: &str) -> Uuid {
        let mut seed = blake3::Hasher::new();
        seed.update(record.event_id.as_bytes());
        seed.update(purpose.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&seed.finalize().as_bytes()[..16]);
        Uuid::new_v8(bytes)
    }
}

/// A reaction with its memory, following the log.
pub struct ProcessManager<R: Reaction> {
    reaction: R,
    reactor: Reactor,
    memory: View,
}

impl<R: Reaction> ProcessManager<R> {
    /// The process manager of `reaction`, remembering in `views`.
    pub fn new(reaction: R, reactor: Reactor, views: &Views) -> Result<Self, AppError> {
        let memory = views
            .view(&format!("process/{}", R::NAME))
            .map_err(view_error)?;
        Ok(ProcessManager {
            reaction,
            reactor,
            memory,
        })
    }

    /// The reaction (e.g. to drive a timer).
    pub fn reaction(&self) -> &R {
        &self.reaction
    }

    /// What it remembers.
    pub fn memory(&self) -> &View {
        &self.memory
    }

    /// The position of the last event handled.
    pub fn checkpoint(&self) -> Result<Position, AppError> {
        self.memory.checkpoint().map_err(view_error)
    }

    /// Handles every event up to the log's current head; returns the
    /// position reached. Stops at the first failure, checkpoint unmoved.
    pub async fn catch_up(&self) -> Result<Position, AppError> {
        let log = self.reactor.commands.aggregates().log().clone();
        let mut position = self.checkpoint()?;
        loop {
            let page = log.read_all(position, PAGE).await?;
            if page.is_empty() {
                return Ok(position);
            }
            for record in &page {
                self.handle(record).await?;
                position = record.position;
            }
        }
    }

    /// Follows the log until `stop` resolves, retrying failed reactions
    /// with a growing pause (never skipping an event).
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut pause = Duration::from_millis(50);
        let log = self.reactor.commands.aggregates().log().clone();
        loop {
            let start = match self.checkpoint() {
                Ok(position) => position,
                Err(error) => {
                    tracing::error!(process = R::NAME, %error, "cannot read checkpoint");
                    Position::START
                }
            };
            let mut subscription = log.subscribe(start);
            loop {
                let next = tokio::select! {
                    () = &mut stop => return,
                    next = subscription.next() => next,
                };
                let Some(next) = next else { return };
                let outcome = match next {
                    Ok(record) => self.handle(&record).await,
                    Err(error) => Err(error.into()),
                };
                if let Err(error) = outcome {
                    tracing::warn!(process = R::NAME, %error, "reaction failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                    break;
                }
                pause = Duration::from_millis(50);
            }
        }
    }

    async fn handle(&self, record: &RecordedEvent) -> Result<(), AppError> {
        let mut changes = ViewChanges::default();
        // Events of types this release does not know are not for us.
        if let Ok(mut event) = record.decode() {
            event.open_with(&**self.reactor.commands.aggregates().vault())?;
            let reacted = self
                .reaction
                .react(&self.reactor, record, &event, &self.memory, &mut changes)
                .await;
            match reacted {
                Ok(()) | Err(AppError::Domain(_)) => {}
                Err(other) => return Err(other),
            }
        }
        // Waits out a compaction without holding a thread of the runtime.
        self.memory
            .apply_unpaused(record.position, changes)
            .await
            .map_err(view_error)
    }
}

fn view_error(error: tahc_projections::ViewError) -> AppError {
    error.into()
}
