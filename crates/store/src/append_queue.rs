//! The queue in front of a log's one writer, shared by the backends: an
//! append waits in it for its round and hears its own outcome.

use std::sync::Mutex;

use tahc_events::{NewEvent, StreamId};
use tokio::sync::{mpsc, oneshot};

use crate::error::AppendError;
use crate::log::{Appended, ExpectedVersion};

/// One caller's append, waiting for its round.
pub(crate) struct AppendJob {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// The sending side of the queue; closed once the log is.
pub(crate) struct AppendQueue(Mutex<Option<mpsc::Sender<AppendJob>>>);

impl AppendQueue {
    /// A queue of `capacity` appends and the writer's end of it.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<AppendJob>) {
        let (sender, receiver) = mpsc::channel(capacity);
        (AppendQueue(Mutex::new(Some(sender))), receiver)
    }

    /// Takes no more appends (the writer ends once the queue is empty).
    pub fn close(&self) {
        self.0.lock().expect("append queue lock").take();
    }

    /// Queues an append and waits for its outcome.
    pub async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        let sender = self
            .0
            .lock()
            .expect("append queue lock")
            .clone()
            .ok_or(AppendError::Closed)?;
        let (reply, outcome) = oneshot::channel();
        let job = AppendJob {
            stream: stream.clone(),
            expected,
            events,
            reply,
        };
        sender.send(job).await.map_err(|_| AppendError::Closed)?;
        outcome.await.map_err(|_| AppendError::Closed)?
    }
}
