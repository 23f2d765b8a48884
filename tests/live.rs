//! Live updates from a real `tahc serve` process: a subscriber resumes
//! after the server crashed (SIGKILL) and restarted, and gets every change
//! once, in order.

mod support;

#[path = "../crates/api/tests/support/ws.rs"]
#[allow(dead_code)]
mod ws;

use serde_json::{Value, json};
use support::{
    BOOTSTRAP_KEY, graphql, kill, serve, start_conversation, stop, visitor, workspace_of,
};
use tempfile::TempDir;
use ws::Ws;

const INBOX: &str =
    "subscription($after:String){conversationChanges(after:$after){kind position message{body}}}";

fn ws_url(base: &str) -> String {
    format!("{}/graphql", base.replacen("http", "ws", 1))
}

async fn post(base: &str, token: &str, conversation: &str, body: &str) {
    let sent = graphql(
        base,
        token,
        "mutation($c:ID!,$b:String!){sendMessage(input:{conversationId:$c,body:$b}){message{id}}}",
        json!({"c": conversation, "b": body}),
    )
    .await;
    assert!(
        sent["data"]["sendMessage"]["message"]["id"].is_string(),
        "{sent}"
    );
}

/// Reads changes until the message `last` shows up: the changes read.
async fn read_until(ws: &mut Ws, last: &str) -> Vec<Value> {
    let mut changes = Vec::new();
    loop {
        let change = ws.nexts("inbox", 1).await[0]["data"]["conversationChanges"].clone();
        let done = change["message"]["body"] == last;
        changes.push(change);
        if done {
            return changes;
        }
    }
}

fn position(change: &Value) -> u64 {
    change["position"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_resumes_after_a_crash_and_restart_with_nothing_missed_or_repeated() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    let conversation = start_conversation(&served.base, &token, "m0").await;

    let mut ws = Ws::open(&ws_url(&served.base), BOOTSTRAP_KEY).await;
    ws.subscribe("inbox", INBOX, json!({})).await;
    for n in 1..=10 {
        post(&served.base, &token, &conversation, &format!("m{n}")).await;
    }
    // The subscriber has read up to m5 when the server dies; m6 … m10 were
    // acknowledged but never delivered.
    let seen = read_until(&mut ws, "m5").await;
    let resume_at = position(seen.last().unwrap());
    kill(served);

    let served = serve(&dir, None);
    for n in 11..=15 {
        post(&served.base, &token, &conversation, &format!("m{n}")).await;
    }
    let mut ws = Ws::open(&ws_url(&served.base), BOOTSTRAP_KEY).await;
    ws.subscribe("inbox", INBOX, json!({"after": resume_at.to_string()}))
        .await;
    let resumed = read_until(&mut ws, "m15").await;
    let positions: Vec<_> = resumed.iter().map(position).collect();
    assert!(positions[0] > resume_at, "{positions:?}");
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let bodies: Vec<_> = resumed
        .iter()
        .filter_map(|c| c["message"]["body"].as_str())
        .collect();
    let expected: Vec<_> = (6..=15).map(|n| format!("m{n}")).collect();
    assert_eq!(bodies, expected);
    stop(served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_subscribers_with_1001_and_keeps_every_acknowledged_message() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    let mut ws = Ws::open(&ws_url(&served.base), BOOTSTRAP_KEY).await;
    ws.subscribe("inbox", INBOX, json!({})).await;
    start_conversation(&served.base, &token, "before the stop").await;
    read_until(&mut ws, "before the stop").await;
    let stopping = tokio::task::spawn_blocking(move || stop(served));
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 1001, "{reason}");
    stopping.await.unwrap();

    let served = serve(&dir, None);
    let mut ws = Ws::open(&ws_url(&served.base), BOOTSTRAP_KEY).await;
    ws.subscribe("inbox", INBOX, json!({"after": "0"})).await;
    // Acknowledged before the stop, so there after it.
    read_until(&mut ws, "before the stop").await;
    stop(served);
}
