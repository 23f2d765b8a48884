//! The log as the read models have applied it: what live subscriptions
//! follow, so that a change they announce is already visible in the views.
//!
//! A follower task reads the log as it grows, waits until every read model
//! has applied each batch, then raises the applied head and publishes the
//! batch. Subscribers use the store's catch-up-then-live [`Subscription`]
//! over a reader that never reads past the applied head, so a subscriber
//! that starts behind, lags, or misses a batch reads the log instead and
//! still gets every event once, in order.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use tahc_events::{Position, RecordedEvent};
use tahc_store::{LiveFeed, LogReader, ReadError, SharedLog, Subscription};
use tokio::sync::watch;

use crate::compaction::Compaction;
use crate::node::ReadModels;
use crate::revocations::Revocations;

/// Batches held for live subscribers before a slow one lags (and reads the
/// log instead).
const LIVE_BATCHES: usize = 256;

/// Most events published as one batch.
const MAX_BATCH: usize = 512;

/// The log, as far as every read model has applied it.
pub struct AppliedLog {
    log: SharedLog,
    head: watch::Sender<Position>,
    feed: LiveFeed,
    revocations: Revocations,
}

impl AppliedLog {
    /// The applied log of `log`, whose views have applied `start`.
    #[must_use]
    pub fn new(log: SharedLog, start: Position) -> Self {
        AppliedLog {
            log,
            head: watch::channel(start).0,
            feed: LiveFeed::with_capacity(LIVE_BATCHES),
            revocations: Revocations::default(),
        }
    }

    /// The principals revoked as the views apply the log: marked before
    /// the revoking event is visible here.
    #[must_use]
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// The last position every read model has applied.
    #[must_use]
    pub fn head(&self) -> Position {
        *self.head.borrow()
    }

    /// Every event after `after`, in order, once each, as the views apply
    /// them: from the log while behind, then live.
    #[must_use]
    pub fn follow(&self, after: Position) -> Subscription {
        let reader = Arc::new(AppliedReader {
            log: self.log.clone(),
            head: self.head.subscribe(),
        });
        self.feed.subscribe(reader, after)
    }

    /// Publishes what the views apply until `stop` resolves, then ends the
    /// live feed (subscriptions finish once they have caught up). Asks
    /// `compaction` for the views' files after every erasure they apply.
    pub(crate) async fn run(
        &self,
        views: &ReadModels,
        compaction: &Compaction,
        stop: impl Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let mut log = self.log.subscribe(self.head());
        loop {
            let first = tokio::select! {
                () = &mut stop => break,
                next = log.next() => next,
            };
            let mut batch = match first {
                None => break,
                Some(Ok(record)) => vec![record],
                Some(Err(error)) => {
                    tracing::warn!(%error, "the applied log cannot read the log; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
            };
            while batch.len() < MAX_BATCH {
                match log.next().now_or_never() {
                    Some(Some(Ok(record))) => batch.push(record),
                    // An error is met again (and retried) by the next call.
                    _ => break,
                }
            }
            let last = batch.last().map_or(Position::START, |r| r.position);
            tokio::select! {
                () = &mut stop => break,
                () = views.reached(last) => {}
            }
            // Revoked connections end before anyone sees what revoked them.
            self.revocations.note(&batch);
            if let Some(erasure) = batch
                .iter()
                .rfind(|record| &*record.event_type == "contact.erased")
            {
                compaction.request(erasure.position);
            }
            self.head.send_replace(last);
            self.feed.publish(batch.into());
        }
        self.feed.close();
    }
}

/// Reads the log, but never past the applied head.
struct AppliedReader {
    log: SharedLog,
    head: watch::Receiver<Position>,
}

#[async_trait]
impl LogReader for AppliedReader {
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let head = *self.head.borrow();
        let applied = usize::try_from(head.0.saturating_sub(after.0)).unwrap_or(usize::MAX);
        if applied == 0 {
            return Ok(Vec::new());
        }
        self.log.read_all(after, limit.min(applied)).await
    }

    async fn head(&self) -> Result<Position, ReadError> {
        Ok(*self.head.borrow())
    }
}
