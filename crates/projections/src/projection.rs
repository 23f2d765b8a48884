//! Running a projector over the log: catch up from the checkpoint, follow
//! live, and let callers wait until a position has been applied.

use std::future::Future;

use futures::FutureExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tahc_events::{Event, KeysUnavailable, Opener, Position, RecordedEvent};
use tahc_store::{LogReader, LogSubscriber, ReadError};
use tokio::sync::watch;

use crate::view::{View, ViewChanges, ViewError, Views};

/// Events read per page while catching up.
const PAGE: usize = 512;

/// Turns events into changes of one view. Deterministic: the same events
/// always give the same bytes, so a rebuild equals the original.
pub trait Projector: Send + Sync + 'static {
    /// The view's name.
    const NAME: &'static str;

    /// The changes `event` makes to `view` (read it for the current state).
    fn apply(
        &self,
        record: &RecordedEvent,
        event: &Event,
        view: &View,
        changes: &mut ViewChanges,
    ) -> Result<(), ViewError>;
}

/// Why a projection stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The log could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The view could not be written.
    #[error(transparent)]
    View(#[from] ViewError),
    /// The keys to open personal data could not be read.
    #[error(transparent)]
    Keys(#[from] KeysUnavailable),
}

/// A projector, its view, and how far it got.
pub struct Projection<P: Projector> {
    projector: P,
    opener: Arc<dyn Opener>,
    view: View,
    applied: watch::Sender<Position>,
    /// Whether its last attempt to apply events failed (a full or failing
    /// disk): it is retrying, and the view stands still meanwhile.
    failing: AtomicBool,
}

impl<P: Projector> Projection<P> {
    /// The projection of `projector` into its view in `views`, reading
    /// personal data with `opener` (sealed fields it cannot open are
    /// projected as erased).
    pub fn new(projector: P, opener: Arc<dyn Opener>, views: &Views) -> Result<Self, ViewError> {
        let view = views.view(P::NAME)?;
        let (applied, _) = watch::channel(view.checkpoint()?);
        Ok(Projection {
            projector,
            opener,
            view,
            applied,
            failing: AtomicBool::new(false),
        })
    }

    /// The view, for queries.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The last position applied.
    pub fn position(&self) -> Position {
        *self.applied.borrow()
    }

    /// Whether the view is stuck retrying a failed write or read: the log
    /// moves on, the view does not until the storage works again.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Waits until the view has applied `position` (or gives up after
    /// `patience`); true when it has.
    pub async fn wait_for(&self, position: Position, patience: Duration) -> bool {
        tokio::time::timeout(patience, self.reached(position))
            .await
            .is_ok()
    }

    /// Resolves once the view has applied `position`, however long it takes.
    pub async fn reached(&self, position: Position) {
        let mut applied = self.applied.subscribe();
        // The sender lives as long as `self`, so this only ends when reached.
        let _ = applied.wait_for(|p| *p >= position).await;
    }

    /// Applies every event up to the log's current head.
    pub async fn catch_up(&self, log: &dyn LogReader) -> Result<Position, ProjectionError> {
        loop {
            let page = log.read_all(self.position(), PAGE).await?;
            if page.is_empty() {
                return Ok(self.position());
            }
            self.handle(&page)?;
        }
    }

    /// Follows the log until `stop` resolves; a failure is retried after a
    /// pause, from the checkpoint, never skipping an event.
    pub async fn run<L: LogSubscriber + ?Sized>(&self, log: &L, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let mut subscription = log.subscribe(self.position());
            let failure = loop {
                let next = tokio::select! {
                    () = &mut stop => return,
                    next = subscription.next() => next,
                };
                match next {
                    None => return,
                    Some(Ok(record)) => {
                        // Under load more events are ready at once: apply
                        // them together, one batch instead of one each.
                        let mut ready = vec![record];
                        let mut failed = None;
                        while ready.len() < PAGE {
                            match subscription.next().now_or_never() {
                                Some(Some(Ok(record))) => ready.push(record),
                                Some(Some(Err(error))) => {
                                    failed = Some(error);
                                    break;
                                }
                                Some(None) | None => break,
                            }
                        }
                        // A compaction copying the views holds writes: they
                        // wait for it without holding a thread of the runtime.
                        let staged = match self.stage(&ready) {
                            Ok(staged) => staged,
                            Err(error) => break error,
                        };
                        if let Some((position, changes)) = staged {
                            if let Err(error) = self.view.apply_unpaused(position, changes).await {
                                break error.into();
                            }
                            self.applied_to(position);
                        }
                        if let Some(error) = failed {
                            break ProjectionError::from(error);
                        }
                    }
                    Some(Err(error)) => break ProjectionError::from(error),
                }
            };
            self.failing.store(true, Ordering::Relaxed);
            tracing::warn!(view = P::NAME, error = %failure, "projection failed; retrying");
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// Applies `records` (in log order, after the checkpoint) directly: to
    /// replay a chosen part of the log, such as one stream up to a point.
    pub fn apply(&self, records: &[RecordedEvent]) -> Result<(), ProjectionError> {
        self.handle(records)
    }

    /// Applies events in one atomic write with the checkpoint of the last.
    fn handle(&self, records: &[RecordedEvent]) -> Result<(), ProjectionError> {
        if let Some((position, changes)) = self.stage(records)? {
            self.view.apply(position, changes)?;
            self.applied_to(position);
        }
        Ok(())
    }

    /// The changes of `records` and the position of the last (none when
    /// there are no records): each event's projector reads the view as
    /// the events before it left it, staged writes included.
    fn stage(
        &self,
        records: &[RecordedEvent],
    ) -> Result<Option<(Position, ViewChanges)>, ProjectionError> {
        let Some(last) = records.last() else {
            return Ok(None);
        };
        let staged = Arc::new(Mutex::new(ViewChanges::default()));
        let view = self.view.staging(staged.clone());
        for record in records {
            let mut changes = ViewChanges::default();
            // Types this release does not know change no view.
            if let Ok(mut event) = record.decode() {
                event.open_with(&*self.opener)?;
                self.projector.apply(record, &event, &view, &mut changes)?;
            }
            staged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(changes);
        }
        drop(view);
        let changes = std::mem::take(
            &mut *staged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        Ok(Some((last.position, changes)))
    }

    /// Records that the view applied up to `position`.
    fn applied_to(&self, position: Position) {
        self.failing.store(false, Ordering::Relaxed);
        self.applied.send_replace(position);
    }
}
