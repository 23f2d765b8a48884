//! Black-box tests of the built `tahc` binary's log commands.

use std::path::Path;
use std::process::{Command, Output};

use tahc_events::RecordedEvent;
use tahc_store::conformance::{event, stream};
use tahc_store::{EventAppender, EventStore, ExpectedVersion, SLED_TREE, SledLog};
use tempfile::TempDir;

fn tahc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tahc"))
        .args(args)
        .env_remove("TAHC_DATA_DIR")
        .output()
        .expect("run tahc")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A data directory whose log holds `n` events in two streams.
async fn data_dir_with_events(n: usize) -> TempDir {
    let dir = TempDir::new().unwrap();
    let log = SledLog::open(dir.path().join("log")).unwrap();
    for i in 0..n {
        log.append(
            &stream(&format!("s{}", i % 2)),
            ExpectedVersion::Any,
            vec![event(50)],
        )
        .await
        .unwrap();
    }
    log.close().await;
    dir
}

fn path(dir: &TempDir) -> &str {
    dir.path().to_str().unwrap()
}

#[tokio::test]
async fn events_prints_every_event_as_json_lines_in_position_order() {
    let dir = data_dir_with_events(5).await;
    let output = tahc(&["events", "--data-dir", path(&dir), "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let events: Vec<RecordedEvent> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let positions: Vec<u64> = events.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, [1, 2, 3, 4, 5]);
    assert_eq!(events[1].stream_id, stream("s1"));
}

#[tokio::test]
async fn events_pages_with_after_and_limit_and_prints_a_table_by_default() {
    let dir = data_dir_with_events(6).await;
    let output = tahc(&[
        "events",
        "--data-dir",
        path(&dir),
        "--after",
        "2",
        "--limit",
        "3",
    ]);
    assert!(output.status.success());
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("POSITION") && lines[0].contains("TYPE"));
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[1].trim_start().starts_with('3'));
    assert!(lines[1].contains("test.happened v1") && lines[1].contains("AGENT:agent-1"));
}

#[tokio::test]
async fn verify_passes_on_an_intact_log_and_names_the_first_changed_record() {
    let dir = data_dir_with_events(8).await;
    let output = tahc(&["verify", "--data-dir", path(&dir)]);
    assert!(output.status.success(), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("8 events"));

    tamper(&dir.path().join("log"), 5);
    let output = tahc(&["verify", "--data-dir", path(&dir)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stdout).contains("first bad position 5"),
        "{}",
        text(&output.stdout)
    );
}

#[tokio::test]
async fn verify_reports_a_damaged_last_record_as_a_bad_position() {
    let dir = data_dir_with_events(3).await;
    tamper(&dir.path().join("log"), 3);
    let output = tahc(&["verify", "--data-dir", path(&dir)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("first bad position 3"));
}

/// Flips one payload byte of the record at `position`.
fn tamper(log_dir: &Path, position: u64) {
    let db = tahc_store::open_sled_db(log_dir).unwrap();
    let tree = db.open_tree(SLED_TREE).unwrap();
    let key = tahc_store::sled_keys::event(tahc_events::Position(position));
    let mut bytes = tree.get(key).unwrap().unwrap().to_vec();
    let at = bytes.len() - 40;
    bytes[at] ^= 0x20;
    tree.insert(key, bytes).unwrap();
    db.flush().unwrap();
}

#[test]
fn events_on_a_fresh_data_directory_says_there_are_none_and_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let output = tahc(&["events", "--data-dir", path(&dir)]);
    assert!(output.status.success());
    assert!(text(&output.stderr).contains("no events yet"));
    assert!(!dir.path().join("log").exists(), "must not create a log");
}

#[test]
fn verify_without_a_log_is_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let output = tahc(&["verify", "--data-dir", path(&dir)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no tahc event log in"));
}

#[test]
fn bad_flags_are_refused_with_usage_and_exit_code_2() {
    for args in [
        &["events", "--after", "minus-one"][..],
        &["events", "--limit", "-3"],
        &["events", "--no-such-flag"],
        &["no-such-command"],
    ] {
        let output = tahc(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(text(&output.stderr).contains("error:"), "{args:?}");
    }
}

#[test]
fn an_input_limit_out_of_its_range_is_refused_naming_the_flag_and_the_range() {
    for (flag, value, range) in [
        ("--max-message-chars", "10001", "1..=10000"),
        ("--max-body-bytes", "0", "1..="),
        ("--max-connections-per-visitor", "many", ""),
        ("--request-read-timeout", "0", "1..=3600"),
        ("--response-write-timeout", "3601", "1..=3600"),
    ] {
        let dir = TempDir::new().unwrap();
        let data_dir = dir.path().join("data");
        let output = tahc(&["serve", "--data-dir", path_of(&data_dir), flag, value]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains(range),
            "{flag}: {stderr}"
        );
        assert!(!data_dir.exists(), "{flag}: nothing is opened");
    }
}

fn path_of(path: &Path) -> &str {
    path.to_str().unwrap()
}
