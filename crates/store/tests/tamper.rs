//! Changing any stored byte of a record is caught by `verify`, which names
//! the record's position; a damaged log refuses to open for writing.

use std::path::Path;

use tahc_events::Position;
use tahc_store::conformance::{event, stream};
use tahc_store::{
    EventAppender, EventStore, ExpectedVersion, OpenError, ReadError, SLED_TREE, SledLog,
};
use tempfile::TempDir;

const EVENTS: u64 = 12;
const TARGET: u64 = 7;

async fn write_log(dir: &Path) {
    let log = SledLog::open(dir).unwrap();
    for n in 0..EVENTS {
        log.append(
            &stream(&format!("s{}", n % 3)),
            ExpectedVersion::Any,
            vec![event(60)],
        )
        .await
        .unwrap();
    }
    log.close().await;
}

/// Edits the raw record at `position` behind the log's back.
fn edit_record(dir: &Path, position: u64, edit: impl FnOnce(&mut Vec<u8>)) -> usize {
    let db = tahc_store::open_sled_db(dir).unwrap();
    let tree = db.open_tree(SLED_TREE).unwrap();
    let mut key = vec![b'e'];
    key.extend_from_slice(&position.to_be_bytes());
    let mut bytes = tree.get(&key).unwrap().unwrap().to_vec();
    let len = bytes.len();
    edit(&mut bytes);
    tree.insert(key, bytes).unwrap();
    db.flush().unwrap();
    len
}

async fn verify(dir: &Path) -> Option<Position> {
    let log = SledLog::open(dir).unwrap();
    let verification = log.verify().await.unwrap();
    log.close().await;
    verification.first_bad
}

#[tokio::test]
async fn flipping_any_byte_of_a_record_makes_verify_name_its_position() {
    let dir = TempDir::new().unwrap();
    write_log(dir.path()).await;
    assert_eq!(verify(dir.path()).await, None);
    let len = edit_record(dir.path(), TARGET, |_| {});
    // One byte in each field of the layout, and the very last one.
    let mut offsets: Vec<usize> = vec![0, 1, 8, 9, 25, 33, 41, 43, 44, 60, 61, 77, 93];
    offsets.extend([len - 100, len - 60, len - 33, len - 32, len - 1]);
    for offset in offsets {
        edit_record(dir.path(), TARGET, |b| b[offset] ^= 0x01);
        assert_eq!(
            verify(dir.path()).await,
            Some(Position(TARGET)),
            "flipped byte {offset} of {len}"
        );
        edit_record(dir.path(), TARGET, |b| b[offset] ^= 0x01);
    }
    assert_eq!(verify(dir.path()).await, None);
}

#[tokio::test]
async fn a_truncated_record_is_named_by_verify_not_a_panic() {
    let dir = TempDir::new().unwrap();
    write_log(dir.path()).await;
    edit_record(dir.path(), TARGET, |b| b.truncate(b.len() / 2));
    assert_eq!(verify(dir.path()).await, Some(Position(TARGET)));
}

#[tokio::test]
async fn a_log_whose_last_record_is_damaged_refuses_to_open() {
    let dir = TempDir::new().unwrap();
    write_log(dir.path()).await;
    edit_record(dir.path(), EVENTS, |b| b[0] = 99);
    let err = SledLog::open(dir.path()).err().expect("must refuse");
    assert!(
        matches!(err, OpenError::Corrupt(ReadError::Corrupt { position, .. }) if position == Position(EVENTS)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused_as_locked() {
    let dir = TempDir::new().unwrap();
    let _log = SledLog::open(dir.path()).unwrap();
    let err = SledLog::open(dir.path()).err().expect("must refuse");
    assert!(matches!(err, OpenError::Locked { .. }), "{err:?}");
}
