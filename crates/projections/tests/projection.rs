//! Running a projection over a real sled log when its view cannot be
//! written for a while (a full or failing disk).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tahc_events::{
    Actor, Controller, ConversationStarted, Event, EventMeta, Keyless, NewEvent, RecordedEvent,
    StreamCategory, StreamId,
};
use tahc_projections::{Projection, Projector, View, ViewChanges, ViewError, Views};
use tahc_store::{EventAppender, ExpectedVersion, SledLog};
use tempfile::TempDir;
use uuid::Uuid;

/// Counts events, or fails while its storage is "broken".
struct Counter {
    broken: Arc<AtomicBool>,
}

impl Projector for Counter {
    const NAME: &'static str = "counter";

    fn apply(
        &self,
        record: &RecordedEvent,
        _event: &Event,
        _view: &View,
        changes: &mut ViewChanges,
    ) -> Result<(), ViewError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(ViewError::Record("no space left on device".into()));
        }
        changes.put(b"last", record.position.0.to_be_bytes());
        Ok(())
    }
}

async fn append(log: &SledLog) -> tahc_events::Position {
    let meta = EventMeta {
        actor: Actor::system(),
        workspace_id: Uuid::now_v7(),
        occurred_at: chrono::Utc::now(),
        correlation_id: None,
        causation_id: None,
    };
    let started: Event = ConversationStarted {
        visitor_id: Uuid::now_v7(),
        controller: Controller::Ai,
    }
    .into();
    let stream = StreamId::of(StreamCategory::Conversation, Uuid::now_v7());
    log.append(
        &stream,
        ExpectedVersion::Any,
        vec![NewEvent::encode(&started, &meta).unwrap()],
    )
    .await
    .unwrap()
    .last_position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_that_cannot_be_written_says_it_is_failing_and_catches_up_once_it_can() {
    let (log_dir, views_dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let log = Arc::new(SledLog::open(log_dir.path()).unwrap());
    let broken = Arc::new(AtomicBool::new(false));
    let projection = Arc::new(
        Projection::new(
            Counter {
                broken: broken.clone(),
            },
            Arc::new(Keyless),
            &Views::open(views_dir.path()).unwrap(),
        )
        .unwrap(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let (projection, log) = (projection.clone(), log.clone());
        async move {
            projection
                .run(&*log, async {
                    let _ = stopped.await;
                })
                .await;
        }
    });
    let first = append(&log).await;
    assert!(projection.wait_for(first, Duration::from_secs(5)).await);
    assert!(!projection.failing());

    broken.store(true, Ordering::SeqCst);
    let second = append(&log).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !projection.failing() {
        assert!(tokio::time::Instant::now() < deadline, "never said failing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        projection.position(),
        first,
        "a failed write moved the view"
    );

    broken.store(false, Ordering::SeqCst);
    assert!(projection.wait_for(second, Duration::from_secs(5)).await);
    assert!(!projection.failing());
    assert_eq!(
        projection.view().get(b"last").unwrap().as_deref(),
        Some(&second.0.to_be_bytes()[..])
    );
    let _ = stop.send(());
    running.await.unwrap();
}
