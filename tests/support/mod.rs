//! `tahc serve` as a real process: started on a data directory, its banner
//! read, asked over HTTP, stopped or killed.
#![allow(dead_code)]

pub mod postgres;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

/// A key of the form the server generates (a weaker one is refused).
pub const BOOTSTRAP_KEY: &str =
    "tahc_7e3f0c9a41b6d2e85f7a0b3c9d1e4f6a2b8c0d5e7f9a1b3c5d7e9f0a2b4c6d8e";

/// `tahc serve` flags that switch every rate limit off: for load tests,
/// where the load is the point and every client shares one address.
pub const NO_RATE_LIMITS: &[&str] = &[
    "--visitor-rate",
    "0",
    "--team-rate",
    "0",
    "--sessions-per-address-rate",
    "0",
    "--sessions-rate",
    "0",
];

pub struct Served {
    pub child: Child,
    pub base: String,
    pub lines: Vec<String>,
    /// Keeps reading what the server prints, as a terminal would.
    _output: std::thread::JoinHandle<()>,
}

/// A test that fails midway leaves no server behind.
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tahc serve` and reads its banner up to the last line it prints.
pub fn serve(dir: &TempDir, bootstrap: Option<&str>) -> Served {
    serve_with(dir, bootstrap, &[])
}

/// Starts `tahc serve` with more flags.
pub fn serve_with(dir: &TempDir, bootstrap: Option<&str>, flags: &[&str]) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tahc"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(flags)
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

pub async fn graphql(base: &str, credential: &str, query: &str, variables: Value) -> Value {
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

pub fn stop(mut served: Served) {
    let pid = served.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    // Within the default shutdown timeout (10 s) and a margin.
    for _ in 0..300 {
        if let Some(status) = served.child.try_wait().unwrap() {
            assert!(status.success(), "graceful shutdown exits 0");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    served.child.kill().unwrap();
    panic!("tahc serve did not stop on SIGTERM");
}

/// Runs `tahc ARGS --data-dir DIR` to its end.
pub fn tahc_on(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tahc"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("TAHC_DATA_DIR")
        .output()
        .expect("run tahc")
}

/// Kills the server with SIGKILL, as a crash would.
pub fn kill(mut served: Served) {
    served.child.kill().unwrap();
    served.child.wait().unwrap();
}

/// The global id of the workspace `key` belongs to.
pub async fn workspace_of(base: &str, key: &str) -> String {
    let viewer = graphql(base, key, "{viewer{workspace{id}}}", json!({})).await;
    viewer["data"]["viewer"]["workspace"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{viewer}"))
        .to_owned()
}

/// The global id of the contact with `email`, as the admin finds it.
pub async fn contact_by_email(base: &str, email: &str) -> String {
    let found = graphql(
        base,
        BOOTSTRAP_KEY,
        "query($e:String!){contactByEmail(email:$e){id}}",
        json!({ "e": email }),
    )
    .await;
    found["data"]["contactByEmail"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{found}"))
        .to_owned()
}

/// A new visitor of `workspace` (a global id): its token.
pub async fn visitor(base: &str, workspace: &str) -> String {
    let session: Value = reqwest::Client::new()
        .post(format!("{base}/widget/session"))
        .json(&json!({ "workspace": workspace }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["token"].as_str().unwrap().to_owned()
}

/// The visitor behind `token` starts a conversation with `body`: its id.
pub async fn start_conversation(base: &str, token: &str, body: &str) -> String {
    let started = graphql(
        base,
        token,
        "mutation($b:String!){startConversation(input:{body:$b}){conversation{id}}}",
        json!({ "b": body }),
    )
    .await;
    started["data"]["startConversation"]["conversation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned()
}

/// The messages `ids` (global ids) as the server at `base` shows them to
/// `credential`, in the order of `ids`: each `{id body}`, or null when it is
/// not there. Asked 100 at a time.
pub async fn messages(base: &str, credential: &str, ids: &[String]) -> Vec<Value> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(100) {
        let answer = graphql(
            base,
            credential,
            "query($ids:[ID!]!){nodes(ids:$ids){... on Message{id body}}}",
            json!({ "ids": chunk }),
        )
        .await;
        assert!(answer.get("errors").is_none(), "{answer}");
        let nodes = answer["data"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"));
        found.extend(nodes.iter().cloned());
    }
    found
}

/// Installs the locked npm packages of `dir` unless `package` is there.
pub fn npm_install(dir: &std::path::Path, package: &str) {
    if dir.join("node_modules").join(package).exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm is needed for the JavaScript tests (install Node.js ≥ 18)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}
