//! `tahc serve` as a newcomer runs it: real process, real HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

const BOOTSTRAP_KEY: &str = "tahc_bootstrap_key_for_tests";

struct Served {
    child: Child,
    base: String,
    lines: Vec<String>,
    /// Keeps reading what the server prints, as a terminal would.
    _output: std::thread::JoinHandle<()>,
}

/// Starts `tahc serve` and reads its banner up to the last line it prints.
fn serve(dir: &TempDir, bootstrap: Option<&str>) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tahc"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("TAHC_DATA_DIR")
        .env_remove("TAHC_LISTEN")
        .env_remove("TAHC_BOOTSTRAP_ADMIN_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(key) = bootstrap {
        command.env("TAHC_BOOTSTRAP_ADMIN_KEY", key);
    }
    let mut child = command.spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "tahc serve exited early: {lines:?}"
        );
        let done = line.contains("Admin API key") || line.contains("Existing data");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    let base = lines[0].rsplit(' ').next().unwrap().to_owned();
    let output = std::thread::spawn(move || for _ in reader.lines() {});
    Served {
        child,
        base,
        lines,
        _output: output,
    }
}

async fn graphql(base: &str, credential: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(credential)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn stop(mut served: Served) {
    let pid = served.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    for _ in 0..100 {
        if let Some(status) = served.child.try_wait().unwrap() {
            assert!(status.success(), "graceful shutdown exits 0");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    served.child.kill().unwrap();
    panic!("tahc serve did not stop on SIGTERM");
}

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

    let session: Value = reqwest::Client::new()
        .post(format!("{}/widget/session", served.base))
        .json(&json!({"workspace": workspace}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap();
    let started = graphql(
        &served.base,
        token,
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
