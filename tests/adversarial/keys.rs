//! Team keys: a weak chosen key is refused without being repeated, a chosen
//! key is never echoed, and what the log stores of a key is no verifier a
//! reader of the log can test guesses against.

use std::process::Command;

use serde_json::json;
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, graphql, serve};

#[test]
fn a_weak_bootstrap_key_is_refused_without_repeating_it() {
    for weak in [
        "password",
        "tahc_bootstrap_key_for_tests",
        "tahc_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let dir = TempDir::new().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_tahc"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("TAHC_BOOTSTRAP_ADMIN_KEY", weak)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{weak}");
        let printed = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(printed.contains("TAHC_BOOTSTRAP_ADMIN_KEY"), "{printed}");
        assert!(!printed.contains(weak), "the key is repeated: {printed}");
        assert!(!dir.path().join("log").exists(), "nothing was created");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_key_is_never_echoed_and_the_log_holds_no_plain_hash_of_it() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let banner = served.lines.join("\n");
    assert!(!banner.contains(BOOTSTRAP_KEY), "{banner}");
    let events = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        "{ events(first: 50) { nodes { type payload } } }",
        json!({}),
    )
    .await;
    let added = events["data"]["events"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{events}"))
        .iter()
        .find(|e| e["type"] == "workspace.agent_added")
        .unwrap_or_else(|| panic!("{events}"))
        .clone();
    let stored = added["payload"]["key_hash"].as_str().unwrap().to_owned();
    let unkeyed = format!("blake3:{}", blake3::hash(BOOTSTRAP_KEY.as_bytes()).to_hex());
    assert_ne!(stored, unkeyed, "an auditor could test guesses against it");
    assert!(stored.starts_with("keyed:"), "{stored}");
}
