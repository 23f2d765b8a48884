//! The PostgreSQL log's global order under concurrent writers on several
//! nodes: 8 writers spread over 2 nodes (connection sets of their own)
//! append while a reader on a third tails the log. The reader must see
//! every position exactly once, in order, and as many as the table holds;
//! a reader that skipped an event committed late (the gap of logs that
//! allocate positions from a sequence) would fail here.
//!
//! `TAHC_PG_ORDER_SECONDS` sets how long the writers append (default 20).

mod pg_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pg_support::{close_and_drop, fresh_schema, node};
use tahc_events::Position;
use tahc_store::conformance::{event, stream};
use tahc_store::{EventAppender, ExpectedVersion, LogReader, LogSubscriber};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_on_two_nodes_leave_a_log_a_third_reads_whole_and_in_order() {
    let seconds: u64 = std::env::var("TAHC_PG_ORDER_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let (client, schema) = fresh_schema("tahc_order").await;
    let nodes = [node(&schema).await, node(&schema).await];
    let reader = node(&schema).await;
    let mut tail = reader.subscribe(Position::START);

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let log = nodes[writer % 2].clone();
        let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Some writers share streams, so expected versions conflict
                // across nodes too.
                let name = format!("s{}", (writer + n as usize) % 5);
                let count = 1 + (n % 3) as usize;
                let events = (0..count).map(|_| event(64)).collect();
                if log
                    .append(&stream(&name), ExpectedVersion::Any, events)
                    .await
                    .is_ok()
                {
                    acknowledged.fetch_add(count as u64, Ordering::Relaxed);
                }
                n += 1;
            }
        }));
    }
    let reading = tokio::spawn(async move {
        let mut expected = 1u64;
        loop {
            let next = tokio::time::timeout(Duration::from_secs(5), tail.next()).await;
            match next {
                Ok(Some(Ok(record))) => {
                    assert_eq!(record.position, Position(expected), "a gap or a repeat");
                    expected += 1;
                }
                Ok(other) => panic!("the tail ended: {other:?}"),
                // Quiet for 5 s after the writers stopped: everything is in.
                Err(_) => return expected - 1,
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = reading.await.unwrap();
    let in_table: i64 = client
        .query_one(&format!("SELECT count(*) FROM {schema}.tahc_events"), &[])
        .await
        .unwrap()
        .get(0);
    let head = reader.head().await.unwrap();
    println!(
        "{seconds} s: {seen} events read in order; {} acknowledged; {in_table} in the table",
        acknowledged.load(Ordering::Relaxed)
    );
    assert!(seen > 0);
    assert_eq!(seen, in_table as u64);
    assert_eq!(seen, head.0);
    assert_eq!(seen, acknowledged.load(Ordering::Relaxed));
    close_and_drop(&[&nodes[0], &nodes[1], &reader], &client, &schema).await;
}
