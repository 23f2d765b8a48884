//! The behaviour every event log backend must show, written against the
//! [`EventLog`](crate::EventLog) traits only.
//!
//! A backend's test file provides a [`TestLog`] factory and expands
//! [`conformance_suite!`](crate::conformance_suite), which turns every case
//! below into its own named test:
//!
//! ```ignore
//! tahc_store::conformance_suite!(my_backend::fresh_test_log().await);
//! ```

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tahc_events::{Actor, ActorKind, NewEvent, Payload, Position, RecordedEvent, StreamId};
use uuid::Uuid;

use crate::error::AppendError;
use crate::log::{Appended, ExpectedVersion, SharedLog};
use crate::subject_keys::SubjectKeys;
use crate::verify::verify;

/// A log under test that can be closed and opened again on the same storage.
#[async_trait]
pub trait TestLog: Send {
    /// The log.
    fn log(&self) -> SharedLog;
    /// The subject keys kept beside the log.
    fn keys(&self) -> Arc<dyn SubjectKeys>;
    /// Closes the log (everything acknowledged stays) and opens it again.
    /// Callers drop every handle and subscription they took first.
    async fn reopen(&mut self);
}

/// Expands to one `#[tokio::test]` per conformance case; `$make` is an
/// expression (it may `.await`) that yields a `Box<dyn TestLog>` over fresh,
/// empty storage.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            appends_get_consecutive_positions_in_one_global_order,
            stream_versions_count_from_one_in_each_stream,
            no_stream_expectation_refuses_an_existing_stream,
            exact_expectation_refuses_a_stale_version,
            a_stream_written_before_many_others_is_still_checked_against_its_version,
            any_expectation_appends_whatever_the_version,
            concurrent_appends_expecting_one_version_let_exactly_one_win,
            retrying_an_append_with_the_same_event_ids_returns_the_original_result,
            reusing_an_event_id_in_a_different_append_is_refused,
            a_refused_append_stores_nothing,
            reading_a_stream_pages_by_version,
            concurrent_writers_leave_a_gap_free_log,
            a_subscription_catches_up_then_goes_live_without_gap_or_duplicate,
            a_subscription_can_start_in_the_middle_of_the_log,
            a_lagging_subscriber_still_receives_every_event,
            a_reopened_log_keeps_its_events_heads_and_chain,
            the_hash_chain_verifies_after_appends,
            a_subject_keeps_one_key_until_it_is_destroyed_for_good,
            writers_racing_to_create_a_key_all_get_the_same_one,
        );
    };
    (@cases $make:expr; $($case:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let log: Box<dyn $crate::conformance::TestLog> = $make;
                $crate::conformance::$case(log).await;
            }
        )*
    };
}

/// A stream id for tests.
#[must_use]
pub fn stream(name: &str) -> StreamId {
    StreamId::new(format!("test-{name}")).expect("valid stream id")
}

/// An event of about `payload_len` bytes of payload, for tests and benchmarks.
#[must_use]
pub fn event(payload_len: usize) -> NewEvent {
    let filler = "x".repeat(payload_len.saturating_sub(12));
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "test.happened".into(),
        schema_version: 1,
        occurred_at: Utc::now(),
        actor: Actor::new(ActorKind::Agent, "agent-1"),
        workspace_id: Uuid::nil(),
        correlation_id: Some(Uuid::now_v7()),
        causation_id: None,
        payload: Payload::from_json_bytes(format!(r#"{{"note":"{filler}"}}"#)),
    }
}

fn events(n: usize) -> Vec<NewEvent> {
    (0..n).map(|_| event(40)).collect()
}

/// Appends `n` events to test stream `name`, which must succeed.
async fn ok(log: &SharedLog, name: &str, expected: ExpectedVersion, n: usize) -> Appended {
    log.append(&stream(name), expected, events(n))
        .await
        .unwrap_or_else(|e| panic!("append to {name} refused: {e}"))
}

/// Appends `n` events to test stream `name`, which must be refused.
async fn refused(log: &SharedLog, name: &str, expected: ExpectedVersion, n: usize) -> AppendError {
    match log.append(&stream(name), expected, events(n)).await {
        Ok(appended) => panic!("append to {name} was accepted: {appended:?}"),
        Err(error) => error,
    }
}

async fn all(log: &SharedLog) -> Vec<RecordedEvent> {
    log.read_all(Position::START, usize::MAX)
        .await
        .expect("read all")
}

fn assert_gap_free(events: &[RecordedEvent]) {
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.position, Position(i as u64 + 1), "gap or disorder");
    }
}

/// Positions are 1, 2, 3… across streams, in append order.
pub async fn appends_get_consecutive_positions_in_one_global_order(t: Box<dyn TestLog>) {
    let log = t.log();
    let a = ok(&log, "a", ExpectedVersion::NoStream, 2).await;
    let b = ok(&log, "b", ExpectedVersion::NoStream, 3).await;
    assert_eq!(
        (a.first_position, a.last_position),
        (Position(1), Position(2))
    );
    assert_eq!(
        (b.first_position, b.last_position),
        (Position(3), Position(5))
    );
    let stored = all(&log).await;
    assert_gap_free(&stored);
    assert_eq!(stored[2].stream_id, stream("b"));
    assert_eq!(log.head().await.unwrap(), Position(5));
}

/// Each stream numbers its own events from 1.
pub async fn stream_versions_count_from_one_in_each_stream(t: Box<dyn TestLog>) {
    let log = t.log();
    ok(&log, "a", ExpectedVersion::Any, 2).await;
    ok(&log, "b", ExpectedVersion::Any, 1).await;
    let appended = ok(&log, "a", ExpectedVersion::Exact(2), 1).await;
    assert_eq!(appended.stream_version, 3);
    let versions: Vec<u64> = log
        .read_stream(&stream("a"), 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(versions, [1, 2, 3]);
}

/// `NoStream` on an existing stream is a typed conflict naming both versions.
pub async fn no_stream_expectation_refuses_an_existing_stream(t: Box<dyn TestLog>) {
    let log = t.log();
    ok(&log, "a", ExpectedVersion::NoStream, 2).await;
    let err = refused(&log, "a", ExpectedVersion::NoStream, 1).await;
    assert!(
        matches!(
            err,
            AppendError::Conflict {
                expected: ExpectedVersion::NoStream,
                actual: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

/// `Exact(n)` on a stream at another version is a typed conflict.
pub async fn exact_expectation_refuses_a_stale_version(t: Box<dyn TestLog>) {
    let log = t.log();
    ok(&log, "a", ExpectedVersion::Any, 3).await;
    let err = refused(&log, "a", ExpectedVersion::Exact(2), 1).await;
    assert!(
        matches!(
            err,
            AppendError::Conflict {
                expected: ExpectedVersion::Exact(2),
                actual: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let err = refused(&log, "new", ExpectedVersion::Exact(1), 1).await;
    assert!(
        matches!(err, AppendError::Conflict { actual: 0, .. }),
        "{err:?}"
    );
}

/// A writer remembers the versions of the streams it wrote last; one that
/// fell out of that memory is checked against what is stored.
pub async fn a_stream_written_before_many_others_is_still_checked_against_its_version(
    t: Box<dyn TestLog>,
) {
    let log = t.log();
    ok(&log, "a", ExpectedVersion::Any, 2).await;
    let others = crate::stream_versions::REMEMBERED.get() + 1;
    run_writers(&log, "other-", others, 1).await;
    let err = refused(&log, "a", ExpectedVersion::NoStream, 1).await;
    assert!(
        matches!(err, AppendError::Conflict { actual: 2, .. }),
        "{err:?}"
    );
    let appended = ok(&log, "a", ExpectedVersion::Exact(2), 1).await;
    assert_eq!(appended.stream_version, 3);
}

/// `Any` appends to new and existing streams alike.
pub async fn any_expectation_appends_whatever_the_version(t: Box<dyn TestLog>) {
    let log = t.log();
    for expected_version in 1..=3 {
        let appended = ok(&log, "a", ExpectedVersion::Any, 1).await;
        assert_eq!(appended.stream_version, expected_version);
    }
}

/// Optimistic concurrency: of many appends expecting the same version, one
/// wins and every other one gets a conflict.
pub async fn concurrent_appends_expecting_one_version_let_exactly_one_win(t: Box<dyn TestLog>) {
    let log = t.log();
    ok(&log, "a", ExpectedVersion::Any, 1).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move {
                log.append(&stream("a"), ExpectedVersion::Exact(1), events(1))
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(appended) => {
                wins += 1;
                assert_eq!(appended.stream_version, 2);
            }
            Err(AppendError::Conflict { actual: 2, .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(all(&log).await.len(), 2);
}

/// A retry with the same ids, even with a stale expectation, answers the
/// original result and stores nothing twice.
pub async fn retrying_an_append_with_the_same_event_ids_returns_the_original_result(
    t: Box<dyn TestLog>,
) {
    let log = t.log();
    let batch = events(3);
    let first = log
        .append(&stream("a"), ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    ok(&log, "b", ExpectedVersion::Any, 1).await;
    let retry = log
        .append(&stream("a"), ExpectedVersion::NoStream, batch)
        .await
        .unwrap();
    assert_eq!(retry, first);
    assert_eq!(all(&log).await.len(), 4);
    // Concurrent retries of one append also store it once.
    let batch = events(2);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (log, batch) = (log.clone(), batch.clone());
            tokio::spawn(async move { log.append(&stream("c"), ExpectedVersion::Any, batch).await })
        })
        .collect();
    let mut results = HashSet::new();
    for task in tasks {
        let appended = task.await.unwrap().unwrap();
        results.insert((appended.first_position, appended.last_position));
    }
    assert_eq!(results.len(), 1);
    assert_eq!(all(&log).await.len(), 6);
}

/// An id may not be reused by another append, not even partly.
pub async fn reusing_an_event_id_in_a_different_append_is_refused(t: Box<dyn TestLog>) {
    let log = t.log();
    let batch = events(2);
    log.append(&stream("a"), ExpectedVersion::Any, batch.clone())
        .await
        .unwrap();
    let reused = batch[1].event_id;
    let mut mixed = events(1);
    mixed.push(batch[1].clone());
    let err = log
        .append(&stream("a"), ExpectedVersion::Any, mixed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::DuplicateEventId { event_id } if event_id == reused),
        "{err:?}"
    );
    let err = log
        .append(
            &stream("other"),
            ExpectedVersion::Any,
            vec![batch[0].clone()],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::DuplicateEventId { .. }),
        "{err:?}"
    );
    let twice = event(10);
    let err = log
        .append(
            &stream("b"),
            ExpectedVersion::Any,
            vec![twice.clone(), twice],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::DuplicateEventId { .. }),
        "{err:?}"
    );
}

/// Refused appends leave the log exactly as it was.
pub async fn a_refused_append_stores_nothing(t: Box<dyn TestLog>) {
    let log = t.log();
    ok(&log, "a", ExpectedVersion::Any, 1).await;
    let before = all(&log).await;
    let err = log
        .append(&stream("a"), ExpectedVersion::Any, Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::Empty));
    let mut too_long = event(10);
    too_long.event_type = "t".repeat(300).into();
    let err = log
        .append(
            &stream("a"),
            ExpectedVersion::Any,
            vec![event(10), too_long],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::InvalidEvent { index: 1, .. }),
        "{err:?}"
    );
    refused(&log, "a", ExpectedVersion::NoStream, 2).await;
    assert_eq!(all(&log).await, before);
    let next = ok(&log, "a", ExpectedVersion::Exact(1), 1).await;
    assert_eq!(next.first_position, Position(2));
}

/// A stream reads in version order, from any version, a page at a time.
pub async fn reading_a_stream_pages_by_version(t: Box<dyn TestLog>) {
    let log = t.log();
    for _ in 0..5 {
        ok(&log, "a", ExpectedVersion::Any, 1).await;
        ok(&log, "a-longer", ExpectedVersion::Any, 1).await;
    }
    let page = log.read_stream(&stream("a"), 1, 2).await.unwrap();
    let versions: Vec<u64> = page.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [2, 3]);
    assert!(page.iter().all(|e| e.stream_id == stream("a")));
    assert_eq!(log.read_stream(&stream("a"), 5, 10).await.unwrap(), vec![]);
    assert_eq!(
        log.read_stream(&stream("none"), 0, 10).await.unwrap(),
        vec![]
    );
    assert_eq!(
        log.read_stream(&stream("a"), 0, 100).await.unwrap().len(),
        5
    );
}

/// Many writers at once: positions stay 1..=n, each stream's versions stay
/// 1..=k, and every acknowledged event is where its append said.
pub async fn concurrent_writers_leave_a_gap_free_log(t: Box<dyn TestLog>) {
    let log = t.log();
    let tasks: Vec<_> = (0..32)
        .map(|writer| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for _ in 0..20 {
                    let batch = events(1 + writer % 3);
                    let ids: Vec<Uuid> = batch.iter().map(|e| e.event_id).collect();
                    let at = log
                        .append(&stream(&format!("w{writer}")), ExpectedVersion::Any, batch)
                        .await
                        .unwrap();
                    acked.push((at.first_position, ids));
                }
                acked
            })
        })
        .collect();
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    let stored = all(&log).await;
    assert_gap_free(&stored);
    for (first, ids) in acked {
        for (offset, id) in ids.iter().enumerate() {
            assert_eq!(stored[(first.0 - 1) as usize + offset].event_id, *id);
        }
    }
    for writer in 0..32 {
        let versions: Vec<u64> = log
            .read_stream(&stream(&format!("w{writer}")), 0, usize::MAX)
            .await
            .unwrap()
            .iter()
            .map(|e| e.stream_version)
            .collect();
        assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    }
}

/// Starts `writers` tasks, each appending `appends` single-event appends to
/// its own stream `<prefix><n>`, and waits for all of them.
async fn run_writers(log: &SharedLog, prefix: &str, writers: usize, appends: usize) {
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let log = log.clone();
            let stream = stream(&format!("{prefix}{writer}"));
            tokio::spawn(async move {
                for _ in 0..appends {
                    log.append(&stream, ExpectedVersion::Any, events(1))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn collect(subscription: &mut crate::Subscription, count: usize) -> Vec<RecordedEvent> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(20), subscription.next())
            .await
            .expect("subscription stalled")
            .expect("subscription ended")
            .expect("subscription failed");
        seen.push(next);
    }
    seen
}

/// The hand-over from stored events to live ones loses nothing and repeats
/// nothing, while writers keep appending.
pub async fn a_subscription_catches_up_then_goes_live_without_gap_or_duplicate(
    t: Box<dyn TestLog>,
) {
    let log = t.log();
    for _ in 0..50 {
        ok(&log, "before", ExpectedVersion::Any, 2).await;
    }
    let mut subscription = log.subscribe(Position::START);
    let writers = tokio::spawn({
        let log = log.clone();
        async move { run_writers(&log, "live", 8, 25).await }
    });
    let seen = collect(&mut subscription, 100 + 200).await;
    writers.await.unwrap();
    assert_gap_free(&seen);
    assert_eq!(seen, all(&log).await);
    // And nothing more arrives than was written.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), subscription.next())
            .await
            .is_err()
    );
}

/// `after` is exclusive: a subscription from position p starts at p + 1.
pub async fn a_subscription_can_start_in_the_middle_of_the_log(t: Box<dyn TestLog>) {
    let log = t.log();
    ok(&log, "a", ExpectedVersion::Any, 10).await;
    let mut subscription = log.subscribe(Position(6));
    let seen = collect(&mut subscription, 4).await;
    let positions: Vec<u64> = seen.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, [7, 8, 9, 10]);
    ok(&log, "a", ExpectedVersion::Any, 1).await;
    assert_eq!(
        collect(&mut subscription, 1).await[0].position,
        Position(11)
    );
    assert_eq!(subscription.position(), Position(11));
}

/// A subscriber that does not read while far more batches are written than
/// the live channel holds still gets every event, in order, from storage.
pub async fn a_lagging_subscriber_still_receives_every_event(t: Box<dyn TestLog>) {
    let log = t.log();
    let mut subscription = log.subscribe(Position::START);
    run_writers(&log, "w", 16, 100).await;
    // 1,600 single-event appends; the writer never waited for us.
    let seen = collect(&mut subscription, 1600).await;
    assert_gap_free(&seen);
}

/// Closing and reopening keeps every event, the stream heads (versions go on)
/// and the chain (it still verifies after more appends).
pub async fn a_reopened_log_keeps_its_events_heads_and_chain(mut t: Box<dyn TestLog>) {
    let before = {
        let log = t.log();
        ok(&log, "a", ExpectedVersion::Any, 3).await;
        ok(&log, "b", ExpectedVersion::Any, 2).await;
        all(&log).await
    };
    t.reopen().await;
    let log = t.log();
    assert_eq!(all(&log).await, before);
    assert_eq!(log.head().await.unwrap(), Position(5));
    let err = refused(&log, "a", ExpectedVersion::Exact(2), 1).await;
    assert!(
        matches!(err, AppendError::Conflict { actual: 3, .. }),
        "{err:?}"
    );
    let next = ok(&log, "a", ExpectedVersion::Exact(3), 1).await;
    assert_eq!((next.first_position, next.stream_version), (Position(6), 4));
    let retry = log
        .append(
            &stream("a"),
            ExpectedVersion::Any,
            vec![before[0].to_new_event()],
        )
        .await
        .unwrap();
    assert_eq!(retry.first_position, Position(1));
    let verification = verify(&*log).await.unwrap();
    assert!(verification.ok(), "{verification:?}");
    assert_eq!(verification.checked, 6);
}

/// Every record links to the one before it, from the genesis hash on.
pub async fn the_hash_chain_verifies_after_appends(t: Box<dyn TestLog>) {
    let log = t.log();
    assert_eq!(verify(&*log).await.unwrap().checked, 0);
    for n in 1..=5 {
        log.append(&stream("a"), ExpectedVersion::Any, events(n))
            .await
            .unwrap();
    }
    let stored = all(&log).await;
    assert_eq!(stored[0].prev_hash, crate::record::GENESIS);
    for pair in stored.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    let verification = verify(&*log).await.unwrap();
    assert!(verification.ok());
    assert_eq!(verification.checked, 15);
}

/// Case: a subject's key is created once and then always the same; a
/// destroyed key is gone, also after a reopen, and never comes back.
pub async fn a_subject_keeps_one_key_until_it_is_destroyed_for_good(mut t: Box<dyn TestLog>) {
    let keys = t.keys();
    assert_eq!(keys.key("visitor-1").unwrap(), None);
    let key = keys.key_or_create("visitor-1").unwrap();
    assert_eq!(keys.key_or_create("visitor-1").unwrap(), key);
    assert_eq!(keys.key("visitor-1").unwrap(), Some(key));
    let other = keys.key_or_create("visitor-2").unwrap();
    assert_ne!(other, key);
    keys.destroy(&["visitor-1".into()]).unwrap();
    assert_eq!(keys.key("visitor-1").unwrap(), None);
    drop(keys);
    t.reopen().await;
    let keys = t.keys();
    assert_eq!(keys.key("visitor-1").unwrap(), None, "destroyed for good");
    assert_eq!(keys.key("visitor-2").unwrap(), Some(other));
    assert_eq!(
        keys.all().unwrap(),
        vec![("visitor-2".to_owned(), other)],
        "every key there is, and no destroyed one"
    );
    let fresh = keys.key_or_create("visitor-1").unwrap();
    assert_ne!(fresh, key, "a destroyed key never comes back");
}

/// Case: writers creating the same subject's key at once (two nodes sealing
/// the same visitor's data) all get one and the same key.
pub async fn writers_racing_to_create_a_key_all_get_the_same_one(t: Box<dyn TestLog>) {
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let keys = t.keys();
            tokio::task::spawn_blocking(move || keys.key_or_create("contact-raced").unwrap())
        })
        .collect();
    let mut created = HashSet::new();
    for racer in racers {
        created.insert(racer.await.unwrap());
    }
    assert_eq!(created.len(), 1);
    assert_eq!(
        t.keys().key("contact-raced").unwrap(),
        created.into_iter().next()
    );
}
