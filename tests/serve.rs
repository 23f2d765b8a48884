//! `tahc serve` as a newcomer runs it: real process, real HTTP.

use std::process::Command;

use serde_json::json;
use tempfile::TempDir;

mod support;

use support::{BOOTSTRAP_KEY, graphql, serve, stop, visitor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_prints_where_to_go_and_the_service_answers() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, None);
    let banner = served.lines.join("\n");
    assert!(banner.contains("/graphql"), "{banner}");
    let key = banner
        .split_whitespace()
        .find(|w| w.starts_with("tahc_"))
        .expect("an admin key")
        .to_owned();
    let viewer = graphql(
        &served.base,
        &key,
        "{viewer{role workspace{id name}}}",
        json!({}),
    )
    .await;
    assert_eq!(viewer["data"]["viewer"]["role"], "ADMIN", "{viewer}");
    let workspace = viewer["data"]["viewer"]["workspace"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        banner.contains(&workspace),
        "the banner names the workspace for the widget"
    );

    let token = visitor(&served.base, &workspace).await;
    let started = graphql(
        &served.base,
        &token,
        "mutation{startConversation(input:{body:\"Hello!\"}){conversation{id}}}",
        json!({}),
    )
    .await;
    let id = started["data"]["startConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inbox = graphql(&served.base, &key, "{conversations{nodes{id}}}", json!({})).await;
    assert_eq!(
        inbox["data"]["conversations"]["nodes"][0]["id"],
        id.as_str()
    );
    let ready = reqwest::get(format!("{}/readyz", served.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    stop(served);

    // A restart keeps everything and prints no new key.
    let served = serve(&dir, None);
    assert!(served.lines.join("\n").contains("Existing data"));
    let inbox = graphql(&served.base, &key, "{conversations{totalCount}}", json!({})).await;
    assert_eq!(inbox["data"]["conversations"]["totalCount"], 1);
    stop(served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_admin_key_becomes_the_admin_key_of_a_fresh_data_directory() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let viewer = graphql(&served.base, BOOTSTRAP_KEY, "{viewer{role}}", json!({})).await;
    assert_eq!(viewer["data"]["viewer"]["role"], "ADMIN", "{viewer}");
    stop(served);
}

#[test]
fn invalid_configuration_exits_2_naming_the_setting() {
    for args in [
        &["serve", "--listen", "not-an-address"][..],
        &["serve", "--bogus"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tahc"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--listen") || stderr.contains("--bogus"),
            "{stderr}"
        );
    }
}
