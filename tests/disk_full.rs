//! A real, nearly full disk under `tahc serve`: the data directory on a
//! small tmpfs, filled past the log's reserve while a visitor chats. Writes
//! then fail with UNAVAILABLE, reads go on, writes work again as soon as
//! space is freed (no restart); after a kill and a restart the hash chain
//! holds and every acknowledged message is there, nothing refused.
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

const FLAGS: &[&str] = &[
    "--visitor-rate",
    "0",
    "--team-rate",
    "0",
    "--disk-reserve-mib",
    "1",
];
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
async fn a_nearly_full_disk_refuses_writes_serves_reads_and_takes_writes_again_once_space_is_freed()
{
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
    let send = |body: String| graphql(&base, &token, SEND, json!({"c": conversation, "b": body}));
    let mut acknowledged = Vec::new();
    for n in 0..10 {
        let sent = send(format!("{n} before")).await;
        acknowledged.push(
            sent["data"]["sendMessage"]["message"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    // Leave the disk 300 KiB, under the log's 1 MiB reserve.
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
    for n in 0..3 {
        let refused = send(format!("{n} {}", "x".repeat(2_000))).await;
        let error = &refused["errors"][0];
        assert_eq!(error["extensions"]["code"], "UNAVAILABLE", "{refused}");
        assert!(
            error["message"].as_str().unwrap().contains("disk is full"),
            "{refused}"
        );
    }
    // Reads go on.
    let read = graphql(&base, BOOTSTRAP_KEY, COUNT, json!({"c": conversation})).await;
    assert_eq!(read["data"]["node"]["messageCount"], 11, "{read}");

    // Space is back: writes work again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let sent = send("space again".into()).await;
    let again = sent["data"]["sendMessage"]["message"]["id"].as_str();
    acknowledged.push(again.unwrap_or_else(|| panic!("{sent}")).to_owned());

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
        json!({ "ids": acknowledged }),
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
    // Everything acknowledged (the first message too), nothing refused.
    let count = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        COUNT,
        json!({"c": conversation}),
    )
    .await;
    assert_eq!(
        count["data"]["node"]["messageCount"],
        acknowledged.len() + 1,
        "{count}"
    );
    kill(served);
    drop(disk);
}
