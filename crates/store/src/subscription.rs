//! Catch-up-then-live subscriptions, shared by every backend.
//!
//! A subscription listens to the live feed from the moment it is created,
//! then reads storage from its starting position until it has caught up,
//! then serves live batches, dropping what it has already delivered. Whenever
//! the live feed shows a hole (the subscriber lagged behind the bounded
//! channel, or a batch starts past the next expected position) it goes back
//! to reading storage. Publishing never waits for subscribers, so a slow
//! reader never blocks the writer; and since only durable events are
//! published or read, nothing a subscriber sees can be lost later.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures::Stream;
use tahc_events::{Position, RecordedEvent};
use tokio::sync::broadcast;

use crate::error::ReadError;
use crate::log::LogReader;

/// The events of one durable write, in position order.
pub type LiveBatch = Arc<[RecordedEvent]>;

/// How many batches the live channel holds by default before slow
/// subscribers lag (and fall back to reading storage).
pub const LIVE_CAPACITY: usize = 1024;

/// How many events a catching-up subscription reads at once.
const PAGE: usize = 512;

/// The in-process broadcast of newly durable events.
#[derive(Debug)]
pub struct LiveFeed {
    sender: Mutex<Option<broadcast::Sender<LiveBatch>>>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        LiveFeed::with_capacity(LIVE_CAPACITY)
    }
}

impl LiveFeed {
    /// A feed whose channel holds `capacity` batches (at least 1).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        LiveFeed {
            sender: Mutex::new(Some(broadcast::channel(capacity.max(1)).0)),
        }
    }

    /// Publishes a durable batch to every current subscriber; never blocks.
    pub fn publish(&self, batch: LiveBatch) {
        if let Some(sender) = self.sender.lock().expect("live feed lock").as_ref() {
            // An error only means nobody is listening right now.
            let _ = sender.send(batch);
        }
    }

    /// Ends the feed: subscriptions finish once they have caught up.
    pub fn close(&self) {
        self.sender.lock().expect("live feed lock").take();
    }

    fn receiver(&self) -> Option<broadcast::Receiver<LiveBatch>> {
        self.sender
            .lock()
            .expect("live feed lock")
            .as_ref()
            .map(broadcast::Sender::subscribe)
    }

    /// A subscription over `reader` and this feed, from `after`.
    pub fn subscribe(&self, reader: Arc<dyn LogReader>, after: Position) -> Subscription {
        Subscription {
            reader,
            live: self.receiver(),
            last: after,
            buffered: VecDeque::new(),
            catching_up: true,
        }
    }
}

/// An ordered, gap-free, duplicate-free feed of events after a position.
pub struct Subscription {
    reader: Arc<dyn LogReader>,
    live: Option<broadcast::Receiver<LiveBatch>>,
    last: Position,
    buffered: VecDeque<RecordedEvent>,
    catching_up: bool,
}

impl Subscription {
    /// The next event; `None` once the log is closed and everything durable
    /// was delivered. A storage error is returned once and the subscription
    /// can be polled again to retry from where it stood. Cancel-safe: a
    /// call dropped before it answers loses nothing.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent, ReadError>> {
        loop {
            if let Some(event) = self.buffered.pop_front() {
                self.last = event.position;
                return Some(Ok(event));
            }
            if self.catching_up {
                match self.reader.read_all(self.last, PAGE).await {
                    Ok(page) if page.is_empty() => self.catching_up = false,
                    Ok(page) => self.buffered.extend(page),
                    Err(error) => return Some(Err(error)),
                }
                if self.catching_up || self.live.is_some() {
                    continue;
                }
                return None;
            }
            let live = self.live.as_mut()?;
            match live.recv().await {
                Ok(batch) => {
                    let Some(first) = batch.first() else { continue };
                    if first.position > self.last.next() {
                        self.catching_up = true;
                    } else {
                        self.buffered.extend(
                            batch
                                .iter()
                                .filter(|event| event.position > self.last)
                                .cloned(),
                        );
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => self.catching_up = true,
                Err(broadcast::error::RecvError::Closed) => {
                    // Deliver whatever became durable before the close.
                    self.live = None;
                    self.catching_up = true;
                }
            }
        }
    }

    /// The last position delivered (or the starting point).
    #[must_use]
    pub fn position(&self) -> Position {
        self.last
    }

    /// The subscription as a `Stream`.
    pub fn into_stream(self) -> impl Stream<Item = Result<RecordedEvent, ReadError>> + Send {
        futures::stream::unfold(self, |mut subscription| async move {
            subscription.next().await.map(|item| (item, subscription))
        })
    }
}
