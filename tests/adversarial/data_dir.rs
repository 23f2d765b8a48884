//! A damaged data directory is refused at start, with a clear message and
//! a failing exit code, instead of being served as ready; `verify` does
//! not call a directory that lost its events intact.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::{
    BOOTSTRAP_KEY, serve, start_conversation, stop, tahc_on, visitor, workspace_of,
};

/// A stopped node's data directory with a workspace and a conversation.
async fn populated() -> TempDir {
    let dir = TempDir::new().unwrap();
    // As a directory made with a common umask would be.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    start_conversation(&served.base, &token, "hello").await;
    stop(served);
    dir
}

/// Runs `tahc serve` on `dir`: it must exit by itself, within 30 s. Its
/// exit code and what it printed (both streams).
fn start_refused(dir: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tahc"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("TAHC_DATA_DIR")
        .env_remove("TAHC_BOOTSTRAP_ADMIN_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "tahc serve started on a damaged directory: {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), printed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_whose_log_is_gone_is_refused_and_verify_fails() {
    let dir = populated().await;
    std::fs::remove_dir_all(dir.path().join("log")).unwrap();
    // `verify` finds no log at all.
    assert!(!tahc_on(dir.path(), &["verify"]).status.success());
    let (code, printed) = start_refused(dir.path());
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("missing or damaged"), "{printed}");
    assert!(!printed.contains("Admin API key"), "{printed}");
    // `verify` on the empty log the refused start left behind (if any)
    // does not call it intact either.
    if dir.path().join("log/db").is_file() {
        let verified = tahc_on(dir.path(), &["verify"]);
        let text = String::from_utf8_lossy(&verified.stdout);
        assert!(!verified.status.success(), "{text}");
        assert!(text.contains("FAILED"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_email_key_or_token_key_beside_a_log_is_refused_not_regenerated() {
    for key in ["email.key", "token.key"] {
        let dir = populated().await;
        std::fs::remove_file(dir.path().join(key)).unwrap();
        let (code, printed) = start_refused(dir.path());
        assert_eq!(code, Some(1), "{printed}");
        assert!(
            printed.contains(key) && printed.contains("restore it"),
            "{printed}"
        );
        assert!(!dir.path().join(key).exists(), "no new {key} was made");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_its_files_are_the_owners_alone() {
    let dir = populated().await;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir.path()), 0o700);
    for file in ["email.key", "token.key", "log/db", "views/db"] {
        let path = dir.path().join(file);
        assert_eq!(mode(&path) & 0o077, 0, "{file} is {:o}", mode(&path));
    }
}

/// Flips the bits of `range` of the log's sled file.
fn damage(dir: &Path, range: std::ops::Range<usize>) {
    let path = dir.join("log/db");
    let mut bytes = std::fs::read(&path).unwrap();
    for byte in &mut bytes[range] {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_with_damaged_or_truncated_files_is_refused_with_a_clear_error_not_a_panic() {
    let flipped = populated().await;
    damage(flipped.path(), 512..1_024);
    let truncated = populated().await;
    let db = truncated.path().join("log/db");
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&db, &bytes[..4_096]).unwrap();
    for dir in [&flipped, &truncated] {
        let (code, printed) = start_refused(dir.path());
        // A typed refusal (1), not a panic (101).
        assert_eq!(code, Some(1), "{printed}");
        assert!(printed.contains("damaged"), "{printed}");
        let verified = tahc_on(dir.path(), &["verify"]);
        let text = String::from_utf8_lossy(&verified.stdout);
        assert_eq!(verified.status.code(), Some(1), "{text}");
        assert!(text.contains("FAILED"), "{text}");
    }
}
