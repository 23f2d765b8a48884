//! `tahc serve` as a newcomer runs it: real process, real HTTP.

use std::process::Command;

use serde_json::{Value, json};
use tempfile::TempDir;

mod support;

use support::{BOOTSTRAP_KEY, graphql, serve, serve_with, start_conversation, stop, visitor};

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
    let id = start_conversation(&served.base, &token, "Hello!").await;
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
    for (args, named) in [
        (&["serve", "--listen", "not-an-address"][..], "--listen"),
        (&["serve", "--bogus"], "--bogus"),
        (&["serve", "--cache-mib", "0"], "--cache-mib"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tahc"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{stderr}");
    }
}

/// Starts `tahc serve` with `args` and `env`, and reads its banner (then
/// keeps reading what it prints, as a terminal would).
fn spawn(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut command = Command::new(env!("CARGO_BIN_EXE_tahc"));
    command
        .arg("serve")
        .args(args)
        .env_remove("TAHC_DATA_DIR")
        .env_remove("TAHC_LISTEN")
        .env_remove("TAHC_LOG")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while !lines
        .last()
        .is_some_and(|l: &String| l.contains("Admin API key"))
    {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "{lines:?}");
        lines.push(line.trim_end().to_owned());
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, lines)
}

#[test]
fn a_config_file_sets_the_settings_and_a_flag_wins_over_it() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("from-file");
    let config = dir.path().join("tahc.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:1\"\nteam-rate = 600\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let (mut child, lines) = spawn(&["--config", &config, "--listen", "127.0.0.1:0"], &[]);
    let banner = lines.join("\n");
    assert!(
        banner.contains(&format!("Data directory: {}", data.display())),
        "{banner}"
    );
    assert!(!lines[0].ends_with(":1"), "the flag wins: {banner}");
    assert!(
        data.join("log").exists(),
        "the data directory from the file"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_config_file_exits_2_naming_the_setting() {
    let dir = TempDir::new().unwrap();
    for (content, named) in [
        ("colour = \"blue\"\n", "colour"),
        ("listen = \"nowhere\"\n", "--listen"),
        ("team_rate = [1, 2]\n", "team_rate"),
        ("listen = \n", "TOML"),
    ] {
        let config = dir.path().join("tahc.toml");
        std::fs::write(&config, content).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_tahc"))
            .args(["serve", "--config"])
            .arg(&config)
            .args(["--data-dir"])
            .arg(dir.path().join("data"))
            .env_remove("TAHC_LISTEN")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{content}: {stderr}");
        assert!(stderr.contains(named), "{content}: {stderr}");
        assert!(
            !dir.path().join("data").exists(),
            "{content}: nothing was started"
        );
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    use std::io::Read;
    let dir = TempDir::new().unwrap();
    let data = dir.path().display().to_string();
    let (mut child, _) = spawn(
        &[
            "--data-dir",
            &data,
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &[("TAHC_LOG", "info")],
    );
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{stderr}");
    for line in &lines {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(record["level"].is_string(), "{line}");
    }
    assert!(
        stderr.contains("serving") && stderr.contains("stopped"),
        "{stderr}"
    );
}

/// What the demo's agent sees of the inbox.
async fn demo_inbox(base: &str, agent_key: &str) -> Value {
    graphql(
        base,
        agent_key,
        "{ viewer { role } conversationCounts { open pending closed awaitingHuman }
           conversations(first: 10, filter: {}) { nodes { messages(first: 20) { nodes { authorKind internal } } } }
           contacts(first: 10) { nodes { email notes { body } customFields { key value } } } }",
        json!({}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_fills_a_new_inbox_through_the_real_commands() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().display().to_string();
    let (mut child, lines) = spawn(
        &["--data-dir", &data, "--listen", "127.0.0.1:0", "--demo"],
        &[("TAHC_BOOTSTRAP_ADMIN_KEY", BOOTSTRAP_KEY)],
    );
    let base = lines[0].rsplit(' ').next().unwrap().to_owned();
    let demo = lines
        .iter()
        .find(|l| l.contains("Demo data"))
        .expect("a demo line");
    let agent_key = demo.rsplit(' ').next().unwrap();
    // The service's reactions (a low-confidence answer asks for a human, an
    // answer makes the conversation wait for the customer) settle shortly
    // after the commands return.
    let mut inbox = Value::Null;
    for _ in 0..100 {
        inbox = demo_inbox(&base, agent_key).await;
        if inbox["data"]["conversationCounts"]
            == json!({"open": 1, "pending": 2, "closed": 1, "awaitingHuman": 1})
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(inbox["data"]["viewer"]["role"], "AGENT", "{inbox}");
    let counts = &inbox["data"]["conversationCounts"];
    assert_eq!(counts["closed"], 1, "{counts}");
    // Answered, the others wait for the customer; one waits for a human.
    assert_eq!(counts["pending"], 2, "{counts}");
    assert_eq!(counts["open"], 1, "{counts}");
    assert_eq!(counts["awaitingHuman"], 1, "{counts}");
    let kinds: Vec<String> = inbox["data"]["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["messages"]["nodes"].as_array().unwrap().clone())
        .map(|m| {
            format!(
                "{}{}",
                m["authorKind"].as_str().unwrap(),
                if m["internal"] == true { " note" } else { "" }
            )
        })
        .collect();
    for kind in ["VISITOR", "AI", "AGENT", "AGENT note"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let contacts = inbox["data"]["contacts"]["nodes"].as_array().unwrap();
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    assert!(
        contacts
            .iter()
            .any(|c| c["notes"].as_array().is_some_and(|n| !n.is_empty())
                && c["customFields"][0]["value"] == "Pro"),
        "{contacts:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_no_request_in_time_is_closed_and_others_are_served() {
    use tokio::io::AsyncReadExt;
    let dir = TempDir::new().unwrap();
    let served = serve_with(&dir, None, &["--request-read-timeout", "1"]);
    let address = served.base.trim_start_matches("http://").to_owned();
    let mut silent = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut received = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        silent.read_to_end(&mut received),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "closed without an answer: {closed:?}"
    );
    let health = reqwest::get(format!("{}/healthz", served.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    stop(served);
}
