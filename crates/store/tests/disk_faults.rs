//! A failing disk (a full one, a dying drive), injected: appends fail with a
//! clear error, nothing they wrote becomes visible, reads go on, and once
//! the disk works again the log continues gap-free with its hash chain
//! intact, across a reopen too. A disk short of the log's reserve refuses
//! appends before sled ever meets a full disk.

use std::sync::Arc;

use tahc_events::Position;
use tahc_store::EventStore;
use tahc_store::conformance::{event, stream};
use tahc_store::{
    AppendError, DiskFaults, EventAppender, ExpectedVersion, LogReader, SledLog, SledOptions,
    StreamReader,
};
use tempfile::TempDir;

fn open(dir: &TempDir, faults: &Arc<DiskFaults>) -> SledLog {
    SledLog::open_with(
        dir.path(),
        SledOptions {
            faults: faults.clone(),
            ..SledOptions::default()
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_on_a_failing_disk_fail_show_nothing_and_the_log_goes_on_gap_free_once_it_works() {
    let dir = TempDir::new().unwrap();
    let faults = Arc::new(DiskFaults::default());
    let log = open(&dir, &faults);
    let (a, b) = (stream("a"), stream("b"));
    log.append(&a, ExpectedVersion::NoStream, vec![event(10)])
        .await
        .unwrap();

    faults.fail(true);
    // Many appends in flight at once: every one fails, none is visible.
    let mut failing = Vec::new();
    for n in 0..20 {
        let log = log.clone();
        let target = stream(&format!("c{n}"));
        failing.push(tokio::spawn(async move {
            log.append(&target, ExpectedVersion::Any, vec![event(10), event(10)])
                .await
        }));
    }
    let refused = log
        .append(&a, ExpectedVersion::Exact(1), vec![event(10)])
        .await;
    assert!(
        matches!(refused, Err(AppendError::NotDurable(ref why)) if why.contains("no space left")),
        "{refused:?}"
    );
    let retried = event(10);
    assert!(
        log.append(&b, ExpectedVersion::NoStream, vec![retried.clone()])
            .await
            .is_err()
    );
    for append in failing {
        assert!(append.await.unwrap().is_err());
    }
    // Reads go on, and show only what was acknowledged.
    assert_eq!(log.head().await.unwrap(), Position(1));
    assert_eq!(log.read_all(Position::START, 100).await.unwrap().len(), 1);
    assert_eq!(log.read_stream(&a, 0, 100).await.unwrap().len(), 1);

    faults.fail(false);
    // The stream is where the last acknowledged append left it, and the
    // next position follows the last durable one.
    let next = log
        .append(&a, ExpectedVersion::Exact(1), vec![event(10)])
        .await
        .unwrap();
    assert_eq!((next.first_position, next.stream_version), (Position(2), 2));
    // The refused append, retried with the same event id, is new.
    let again = log
        .append(&b, ExpectedVersion::NoStream, vec![retried])
        .await
        .unwrap();
    assert_eq!(again.first_position, Position(3));
    let verification = log.verify().await.unwrap();
    assert_eq!((verification.checked, verification.first_bad), (3, None));
    log.close().await;
    drop(log);

    let reopened = open(&dir, &Arc::default());
    assert_eq!(reopened.head().await.unwrap(), Position(3));
    let all = reopened.read_all(Position::START, 100).await.unwrap();
    let positions: Vec<u64> = all.iter().map(|r| r.position.0).collect();
    assert_eq!(positions, [1, 2, 3]);
    let verification = reopened.verify().await.unwrap();
    assert_eq!((verification.checked, verification.first_bad), (3, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_short_of_its_disk_reserve_refuses_appends_with_disk_full_and_stores_nothing() {
    let dir = TempDir::new().unwrap();
    let reserved = |reserve_bytes| {
        SledLog::open_with(
            dir.path(),
            SledOptions {
                reserve_bytes,
                ..SledOptions::default()
            },
        )
        .unwrap()
    };
    // More than any disk has free.
    let log = reserved(u64::MAX);
    let refused = log
        .append(&stream("a"), ExpectedVersion::NoStream, vec![event(10)])
        .await;
    assert!(
        matches!(
            refused,
            Err(AppendError::DiskFull { free_bytes, reserve_bytes: u64::MAX }) if free_bytes < u64::MAX
        ),
        "{refused:?}"
    );
    assert_eq!(log.head().await.unwrap(), Position::START);
    log.close().await;
    drop(log);

    let log = reserved(0);
    let appended = log
        .append(&stream("a"), ExpectedVersion::NoStream, vec![event(10)])
        .await
        .unwrap();
    assert_eq!(appended.first_position, Position(1));
}
