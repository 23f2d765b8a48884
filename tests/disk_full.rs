//! A real full disk under `tahc serve`: the data directory on a small tmpfs,
//! filled up while a visitor chats. A write then fails with a clear error
//! (UNAVAILABLE when the log is full; when the views fill first, the write
//! is in the log and the error says so), reads go on, and after space is
//! freed and the node restarted, the hash chain holds, every acknowledged
//! message is there, nothing else but that one write, and writes work again.
//!
//! Mounting a tmpfs needs root (CI runs as root). Elsewhere the test says
//! so and passes without running, unless `CI` is set: there it must run.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::json;
use support::{
    BOOTSTRAP_KEY, graphql, kill, serve_with, start_conversation, tahc_on, visitor, workspace_of,
};
use tempfile::TempDir;

const FLAGS: &[&str] = &["--visitor-rate", "0", "--team-rate", "0"];
const SEND: &str = "mutation($c:ID!,$b:String!){sendMessage(input:{conversationId:$c,body:$b}){message{id} userErrors{message}}}";
const COUNT: &str = "query($c:ID!){node(id:$c){... on Conversation{messageCount}}}";

/// A tmpfs mounted on a directory until dropped.
struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(at: &'a Path, size: &str) -> Option<Self> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|status| status.success());
        mounted.then_some(Tmpfs(at))
    }

    fn free_bytes(&self) -> u64 {
        let output = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_serves_reads_and_a_restart_after_freeing_space_loses_nothing() {
    let dir = TempDir::new().unwrap();
    let Some(disk) = Tmpfs::mount(dir.path(), "32m") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to mount a tmpfs (run as root)"
        );
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let served = serve_with(&dir, Some(BOOTSTRAP_KEY), FLAGS);
    let base = served.base.clone();
    let workspace = workspace_of(&base, BOOTSTRAP_KEY).await;
    let token = visitor(&base, &workspace).await;
    let conversation = start_conversation(&base, &token, "hello").await;

    // Leave the log a few hundred KiB.
    let filler = dir.path().join("filler");
    let fill = disk.free_bytes().saturating_sub(300 << 10);
    assert!(
        Command::new("fallocate")
            .args(["-l", &fill.to_string()])
            .arg(&filler)
            .status()
            .unwrap()
            .success()
    );
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for n in 0..2_000 {
        let body = format!("{n} {}", "x".repeat(2_000));
        let sent = graphql(&base, &token, SEND, json!({"c": conversation, "b": body})).await;
        match sent["data"]["sendMessage"]["message"]["id"].as_str() {
            Some(id) => acknowledged.push(id.to_owned()),
            None => {
                refused = Some(sent);
                break;
            }
        }
    }
    let refused = refused.expect("the disk never filled up");
    // Whichever filled first: the log (nothing written) or the views (the
    // write is in the log, the views cannot show it).
    let error = &refused["errors"][0];
    let log_full = error["extensions"]["code"] == "UNAVAILABLE";
    let views_full = error["extensions"]["code"] == "INTERNAL"
        && error["message"]
            .as_str()
            .is_some_and(|m| m.contains("the write is stored"));
    assert!(log_full || views_full, "{refused}");
    // Reads go on.
    let read = graphql(&base, BOOTSTRAP_KEY, COUNT, json!({"c": conversation})).await;
    assert!(read["data"]["node"]["messageCount"].is_u64(), "{read}");

    std::fs::remove_file(&filler).unwrap();
    kill(served);
    let verified = tahc_on(dir.path(), &["verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    let served = serve_with(&dir, None, FLAGS);
    let found = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        "query($ids:[ID!]!){nodes(ids:$ids){id}}",
        json!({ "ids": acknowledged.iter().rev().take(100).collect::<Vec<_>>() }),
    )
    .await;
    assert!(
        found["data"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|node| node["id"].is_string()),
        "an acknowledged message is gone: {found}"
    );
    // Everything acknowledged, and at most the one refused write (stored
    // when the views filled first), nothing else.
    let count = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        COUNT,
        json!({"c": conversation}),
    )
    .await;
    let count = count["data"]["node"]["messageCount"].as_u64().unwrap();
    let acked = acknowledged.len() as u64 + 1;
    assert!(
        (acked..=acked + 1).contains(&count),
        "{count} messages, {acked} acknowledged"
    );
    let sent = graphql(
        &served.base,
        &token,
        SEND,
        json!({"c": conversation, "b": "space again"}),
    )
    .await;
    assert!(
        sent["data"]["sendMessage"]["message"]["id"].is_string(),
        "{sent}"
    );
    kill(served);
    drop(disk);
}
