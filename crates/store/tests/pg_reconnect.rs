//! A node's connections to PostgreSQL dropped under it (a database restart,
//! a failover, an idle timeout — here `pg_terminate_backend`): it reads,
//! listens, appends and keeps keys again without a restart, and its
//! subscribers miss nothing.

mod pg_support;

use std::time::{Duration, Instant};

use pg_support::{fresh_schema, url};
use tahc_events::{Position, RecordedEvent};
use tahc_store::conformance::{event, stream};
use tahc_store::{
    EventAppender, EventStore, ExpectedVersion, LogReader, LogSubscriber, PgLog, PgOptions,
    Subscription,
};

/// The next event of `subscription` and how long it took, within `patience`.
async fn next_within(
    subscription: &mut Subscription,
    patience: Duration,
) -> (RecordedEvent, Duration) {
    let started = Instant::now();
    let next = tokio::time::timeout(patience, subscription.next())
        .await
        .unwrap_or_else(|_| panic!("nothing arrived within {patience:?}"));
    (next.expect("open").expect("readable"), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_connections_were_dropped_reads_listens_and_appends_again() {
    let (database, schema) = fresh_schema("tahc_reconnect").await;
    let name = format!("tahc_dropped_{}", schema.rsplit('_').next().unwrap());
    let separator = if url().contains('?') { '&' } else { '?' };
    // A long poll, so that only a working listener delivers quickly.
    let options = PgOptions {
        schema: Some(schema),
        poll: Duration::from_secs(3),
        ..PgOptions::default()
    };
    let dropped = PgLog::connect_with(
        &format!("{}{separator}application_name={name}", url()),
        options.clone(),
    )
    .await
    .unwrap();
    let other = PgLog::connect_with(&url(), options).await.unwrap();
    let mut subscription = dropped.subscribe(Position::START);
    let append = |log: &PgLog| {
        let log = log.clone();
        async move {
            log.append(&stream("s"), ExpectedVersion::Any, vec![event(20)])
                .await
                .unwrap()
        }
    };
    append(&other).await;
    assert_eq!(
        next_within(&mut subscription, Duration::from_secs(5))
            .await
            .0
            .position,
        Position(1)
    );
    dropped.subject_keys().key_or_create("visitor-1").unwrap();

    let terminated = database
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap();
    assert!(
        terminated.len() >= 3,
        "the writer's, the reader's and the listener's"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Another node appends: the poll finds it, reading through a new
    // connection, and the listener listens again.
    append(&other).await;
    let (second, _) = next_within(&mut subscription, Duration::from_secs(10)).await;
    assert_eq!(second.position, Position(2));
    append(&other).await;
    let (third, waited) = next_within(&mut subscription, Duration::from_secs(10)).await;
    assert_eq!(third.position, Position(3));
    assert!(
        waited < Duration::from_secs(2),
        "woken by a notification, not the 3 s poll: {waited:?}"
    );
    // Its own appends, reads and keys work too.
    assert_eq!(append(&dropped).await.first_position, Position(4));
    assert_eq!(
        next_within(&mut subscription, Duration::from_secs(5))
            .await
            .0
            .position,
        Position(4)
    );
    assert_eq!(dropped.head().await.unwrap(), Position(4));
    assert!(dropped.subject_keys().key("visitor-1").unwrap().is_some());
}
