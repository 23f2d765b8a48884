//! Nothing acknowledged is lost when the process dies.
//!
//! The test re-runs its own binary as a child that appends from 32
//! concurrent writers and prints every acknowledged position; the parent
//! kills it with SIGKILL at a random moment, reopens the log, and checks that
//! every acknowledged event is where it was acknowledged, that positions are
//! gap-free, and that the hash chain verifies. Twenty rounds on one log.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tahc_events::Position;
use tahc_store::conformance::{event, stream};
use tahc_store::{EventAppender, EventStore, ExpectedVersion, LogReader, SledLog};
use uuid::Uuid;

const CHILD_DIR: &str = "TAHC_CRASH_CHILD_DIR";
const ROUNDS: usize = 20;
const WRITERS: usize = 32;

/// The child: appends until killed. Does nothing in a normal test run.
#[test]
fn crash_child_appender() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let log = Arc::new(SledLog::open(&dir).unwrap());
        for writer in 0..WRITERS {
            {
                let log = log.clone();
                tokio::spawn(async move {
                    loop {
                        let batch = vec![event(300), event(300)];
                        let ids: Vec<Uuid> = batch.iter().map(|e| e.event_id).collect();
                        let at = log
                            .append(&stream(&format!("w{writer}")), ExpectedVersion::Any, batch)
                            .await
                            .unwrap();
                        let mut out = std::io::stdout().lock();
                        for (offset, id) in ids.iter().enumerate() {
                            writeln!(out, "ack {} {id}", at.first_position.0 + offset as u64)
                                .unwrap();
                        }
                        out.flush().unwrap();
                    }
                });
            }
        }
        // The writers run until the parent kills this process.
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_appends_survive_sigkill_at_random_moments() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut acked: HashMap<u64, Uuid> = HashMap::new();
    let mut rounds_with_acks = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child_appender",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = rand::rng().random_range(150..600);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let mut output = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut output)
            .unwrap();
        let before = acked.len();
        // The last line may be cut off mid-write by the kill.
        for line in output.lines().filter(|l| l.starts_with("ack ")) {
            let mut parts = line.split(' ').skip(1);
            let (Some(position), Some(id)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(position), Ok(id)) = (position.parse::<u64>(), Uuid::parse_str(id)) else {
                continue;
            };
            acked.insert(position, id);
        }
        if acked.len() > before {
            rounds_with_acks += 1;
        }

        let log = SledLog::open(dir.path()).expect("reopen after SIGKILL");
        let stored = log.read_all(Position::START, usize::MAX).await.unwrap();
        for (i, event) in stored.iter().enumerate() {
            assert_eq!(
                event.position,
                Position(i as u64 + 1),
                "gap in round {round}"
            );
        }
        for (position, id) in &acked {
            let event = stored.get(*position as usize - 1).unwrap_or_else(|| {
                panic!("acknowledged position {position} lost in round {round}")
            });
            assert_eq!(
                event.event_id, *id,
                "position {position} holds another event"
            );
        }
        let verification = log.verify().await.unwrap();
        assert!(
            verification.ok(),
            "chain broken in round {round}: {verification:?}"
        );
        log.close().await;
    }
    assert!(
        rounds_with_acks >= ROUNDS / 2,
        "only {rounds_with_acks} of {ROUNDS} rounds acknowledged anything"
    );
    assert!(
        acked.len() > 1000,
        "only {} acknowledged events",
        acked.len()
    );
}
