//! The PostgreSQL writer's memory and its rounds in flight: a node that
//! remembers the head and its streams' versions writes in one round trip,
//! and must never let a stale memory store anything when another node has
//! appended meanwhile; a node publishes its own rounds and other nodes'
//! events to its subscribers exactly once and in order.

mod pg_support;

use std::time::Duration;

use pg_support::{close_and_drop, fresh_schema, node};
use tahc_events::Position;
use tahc_store::conformance::{event, stream};
use tahc_store::{
    AppendError, EventAppender, ExpectedVersion, LogReader, LogSubscriber, StreamReader, verify,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_whose_memory_went_stale_stores_nothing_from_it_and_answers_from_the_table() {
    let (client, schema) = fresh_schema("tahc_writer").await;
    let (a, b) = (node(&schema).await, node(&schema).await);
    let s = stream("conversation-1");
    // A writes the stream alone until it remembers it (one-trip rounds).
    for version in 0..4 {
        a.append(&s, ExpectedVersion::Exact(version), vec![event(16)])
            .await
            .expect("A appends alone");
    }
    // B appends behind A's back: A's memory (version 4) is stale now.
    b.append(&s, ExpectedVersion::Exact(4), vec![event(16)])
        .await
        .expect("B appends");
    b.append(&stream("other"), ExpectedVersion::NoStream, vec![event(16)])
        .await
        .expect("B appends elsewhere");

    // An expectation that holds only in A's stale memory is refused with
    // the stream's real version…
    let refused = a
        .append(&s, ExpectedVersion::Exact(4), vec![event(16)])
        .await;
    assert!(
        matches!(refused, Err(AppendError::Conflict { actual: 5, .. })),
        "{refused:?}"
    );
    // …and what holds in the table is accepted, at the next free places.
    let appended = a
        .append(&s, ExpectedVersion::Exact(5), vec![event(16)])
        .await
        .expect("A appends after reading");
    assert_eq!(appended.stream_version, 6);
    assert_eq!(appended.first_position, Position(7));
    let any = a
        .append(&s, ExpectedVersion::Any, vec![event(16), event(16)])
        .await
        .expect("A appends again");
    assert_eq!((any.stream_version, any.last_position), (8, Position(9)));

    // The stream has every version once, the chain is whole, and the head
    // row agrees with the log.
    let versions: Vec<u64> = a
        .read_stream(&s, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.stream_version)
        .collect();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    let verified = verify(&b).await.expect("the log reads");
    assert_eq!((verified.checked, verified.first_bad), (9, None));
    assert_eq!(a.head().await.unwrap(), Position(9));
    close_and_drop(&[&a, &b], &client, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_publishes_its_own_rounds_and_another_nodes_events_once_and_in_order() {
    let (client, schema) = fresh_schema("tahc_writer").await;
    let (a, b) = (node(&schema).await, node(&schema).await);
    let mut on_a = a.subscribe(Position::START);
    let mut writers = Vec::new();
    for writer in 0..16 {
        // Most appends go through A (its own rounds, two in flight), some
        // through B (read back from the table by A).
        let log = if writer % 4 == 0 {
            b.clone()
        } else {
            a.clone()
        };
        writers.push(tokio::spawn(async move {
            let s = stream(&format!("writer-{writer}"));
            for version in 0..50 {
                log.append(&s, ExpectedVersion::Exact(version), vec![event(32)])
                    .await
                    .expect("append");
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    for expected in 1..=800u64 {
        let next = tokio::time::timeout(Duration::from_secs(5), on_a.next())
            .await
            .expect("A's subscriber hears every event")
            .expect("the subscription goes on")
            .expect("no read error");
        assert_eq!(next.position, Position(expected), "a gap or a repeat");
    }
    let extra = tokio::time::timeout(Duration::from_millis(500), on_a.next()).await;
    assert!(extra.is_err(), "nothing after the last event: {extra:?}");
    let verified = verify(&a).await.expect("the log reads");
    assert_eq!((verified.checked, verified.first_bad), (800, None));
    close_and_drop(&[&a, &b], &client, &schema).await;
}
