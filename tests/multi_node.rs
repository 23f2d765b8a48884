//! Several `tahc serve` processes sharing one PostgreSQL log
//! (`TAHC_TEST_POSTGRES`, default the local `test` database; each test gets a
//! schema of its own): mutations spread over the nodes, subscribers on each,
//! one node killed with SIGKILL mid-load and restarted. Every acknowledged
//! message is visible on every node, every node delivers the same changes in
//! the same order, and the killed node's subscriber resumes with `after`
//! without a gap or a duplicate.

mod support;

#[path = "../crates/api/tests/support/ws.rs"]
#[allow(dead_code)]
mod ws;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use support::postgres::fresh_store;
use support::{BOOTSTRAP_KEY, Served, kill, serve_with, stop, visitor, workspace_of};
use tempfile::TempDir;
use ws::{Frame, Ws};

const VISITORS: usize = 12;
const CHANGES: &str =
    "subscription($after:String){conversationChanges(after:$after){position message{id body}}}";

/// Stops every node gracefully, then drops their log.
async fn stop_all(nodes: Vec<Node>, log: support::postgres::TestStore) {
    for mut node in nodes {
        stop(node.served.take().expect("running"));
    }
    log.remove().await;
}

/// A node on the shared log, with its own data directory (its views).
struct Node {
    dir: TempDir,
    served: Option<Served>,
}

impl Node {
    fn start(store: &str, bootstrap: Option<&str>) -> Node {
        let dir = TempDir::new().unwrap();
        let served = serve_with(&dir, bootstrap, &flags(store));
        Node {
            dir,
            served: Some(served),
        }
    }

    fn base(&self) -> String {
        self.served.as_ref().expect("running").base.clone()
    }

    fn restart(&mut self, store: &str) {
        self.served = Some(serve_with(&self.dir, None, &flags(store)));
    }
}

fn flags(store: &str) -> Vec<&str> {
    [&["--store", store][..], support::NO_RATE_LIMITS].concat()
}

fn ws_url(base: &str) -> String {
    format!("{}/graphql", base.replacen("http", "ws", 1))
}

/// A change as a subscriber received it: its position and, for a message,
/// the message's body.
type Change = (u64, Option<String>);

/// Follows `conversationChanges` after `after` on the node at `base`,
/// recording into `seen`, until the message `last` arrives (true) or the
/// connection ends (false).
async fn follow(base: String, after: u64, last: String, seen: Arc<Mutex<Vec<Change>>>) -> bool {
    let mut ws = Ws::open(&ws_url(&base), BOOTSTRAP_KEY).await;
    ws.subscribe("changes", CHANGES, json!({"after": after.to_string()}))
        .await;
    loop {
        match ws.frame_within(Duration::from_secs(60)).await {
            Some(Frame::Json(message)) if message["type"] == "next" => {
                let change = &message["payload"]["data"]["conversationChanges"];
                let position = change["position"].as_str().unwrap().parse().unwrap();
                let body = change["message"]["body"].as_str().map(str::to_owned);
                let done = body.as_deref() == Some(last.as_str());
                seen.lock().unwrap().push((position, body));
                if done {
                    return true;
                }
            }
            Some(Frame::Json(message)) if message["type"] == "ping" => {}
            Some(Frame::Json(message)) => panic!("unexpected {message}"),
            Some(Frame::Closed(..)) | None => return false,
        }
    }
}

/// `sendMessage` through the node at `base`: the message's id when it
/// succeeded; `None` when the node could not be reached or refused.
async fn try_post(base: &str, token: &str, conversation: &str, body: &str) -> Option<String> {
    let sent: Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({
            "query": "mutation($c:ID!,$b:String!){sendMessage(input:{conversationId:$c,body:$b}){message{id}}}",
            "variables": {"c": conversation, "b": body},
        }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    sent["data"]["sendMessage"]["message"]["id"]
        .as_str()
        .map(str::to_owned)
}

/// The bodies of messages `ids` as the node at `base` shows them, in order
/// (`None` where one is missing).
async fn messages_on(base: &str, ids: &[String]) -> Vec<Option<String>> {
    support::messages(base, BOOTSTRAP_KEY, ids)
        .await
        .iter()
        .map(|node| node["body"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_log_lose_nothing_when_one_is_killed_mid_load() {
    let log = fresh_store().await;
    let store = log.url.clone();
    let mut nodes = vec![Node::start(&store, Some(BOOTSTRAP_KEY))];
    nodes.push(Node::start(&store, None));
    nodes.push(Node::start(&store, None));
    let bases = Arc::new(RwLock::new(
        nodes.iter().map(Node::base).collect::<Vec<_>>(),
    ));
    let base = |n: usize| bases.read().unwrap()[n].clone();
    let workspace = workspace_of(&base(1), BOOTSTRAP_KEY).await;

    // A subscriber on every node, each from the start of the log.
    let last = "the last message".to_owned();
    let seen: Vec<Arc<Mutex<Vec<Change>>>> = (0..3).map(|_| Arc::default()).collect();
    let mut followers: Vec<_> = (0..3)
        .map(|n| tokio::spawn(follow(base(n), 0, last.clone(), seen[n].clone())))
        .collect();

    // Visitors start conversations and post, each request to the next node
    // in turn: a visitor's token from one node is good on every node.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let mut first_conversation = None;
    let mut visitors = Vec::new();
    for v in 0..VISITORS {
        let token = visitor(&base(v % 3), &workspace).await;
        let conversation =
            support::start_conversation(&base((v + 1) % 3), &token, &format!("v{v} hello")).await;
        first_conversation.get_or_insert_with(|| (token.clone(), conversation.clone()));
        let (bases, acknowledged, running) = (bases.clone(), acknowledged.clone(), running.clone());
        visitors.push(tokio::spawn(async move {
            let mut n = 0;
            while running.load(Ordering::Relaxed) {
                n += 1;
                let body = format!("v{v} m{n}");
                let to = bases.read().unwrap()[(v + n) % 3].clone();
                match try_post(&to, &token, &conversation, &body).await {
                    Some(id) => acknowledged.lock().unwrap().push((id, body)),
                    // The killed node refuses connections: do not spin.
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }

    // Mid-load, the third node dies; its subscriber's connection with it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill(nodes[2].served.take().unwrap());
    let ended = followers.pop().unwrap().await.unwrap();
    assert!(!ended, "the subscriber on the killed node was cut off");
    let before_kill = seen[2].lock().unwrap().clone();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // It restarts, catches up, takes load again, and its subscriber resumes
    // after the last change it had received.
    nodes[2].restart(&store);
    bases.write().unwrap()[2] = nodes[2].base();
    let resume_at = before_kill.last().map_or(0, |(position, _)| *position);
    let resumed = Arc::new(Mutex::new(Vec::new()));
    followers.push(tokio::spawn(follow(
        base(2),
        resume_at,
        last.clone(),
        resumed.clone(),
    )));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    running.store(false, Ordering::Relaxed);
    for visitor in visitors {
        visitor.await.unwrap();
    }
    let (token, conversation) = first_conversation.unwrap();
    try_post(&base(0), &token, &conversation, &last)
        .await
        .expect("the last message is acknowledged");
    for follower in followers {
        let finished = tokio::time::timeout(Duration::from_secs(60), follower).await;
        assert!(finished.unwrap().unwrap(), "a subscriber was cut off");
    }

    // Every node delivered the same changes in the same order; the killed
    // node's, across the kill, exactly once each.
    let on_first = seen[0].lock().unwrap().clone();
    assert!(on_first.windows(2).all(|w| w[0].0 < w[1].0), "in log order");
    assert_eq!(
        *seen[1].lock().unwrap(),
        on_first,
        "the second node's changes"
    );
    let across_the_kill: Vec<Change> = before_kill
        .into_iter()
        .chain(resumed.lock().unwrap().iter().cloned())
        .collect();
    assert_eq!(
        across_the_kill, on_first,
        "no gap, no duplicate across the kill"
    );

    // Every acknowledged message is there on every node, and was delivered.
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "only {} messages",
        acknowledged.len()
    );
    let ids: Vec<String> = acknowledged.iter().map(|(id, _)| id.clone()).collect();
    let bodies: Vec<Option<String>> = acknowledged.iter().map(|(_, b)| Some(b.clone())).collect();
    for n in 0..3 {
        assert_eq!(messages_on(&base(n), &ids).await, bodies, "on node {n}");
    }
    let delivered: std::collections::HashSet<&str> = on_first
        .iter()
        .filter_map(|(_, body)| body.as_deref())
        .collect();
    for (_, body) in &acknowledged {
        assert!(
            delivered.contains(body.as_str()),
            "{body} was never delivered"
        );
    }

    stop_all(nodes, log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_on_an_empty_log_create_the_default_workspace_once() {
    let log = fresh_store().await;
    let store = log.url.clone();
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || Node::start(&store, Some(BOOTSTRAP_KEY)))
        })
        .collect();
    let nodes: Vec<Node> = starting.into_iter().map(|t| t.join().unwrap()).collect();
    let showed_key = |node: &Node| {
        node.served
            .as_ref()
            .unwrap()
            .lines
            .iter()
            .any(|line| line.contains("Admin API key"))
    };
    assert_eq!(
        nodes.iter().filter(|node| showed_key(node)).count(),
        1,
        "exactly one node created the workspace and showed its key"
    );
    let created = log
        .database
        .query_one(
            &format!(
                "SELECT count(DISTINCT stream_id) FROM {}.tahc_events WHERE stream_id LIKE 'workspace-%'",
                log.schema
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(created.get::<_, i64>(0), 1);
    // Both serve the one workspace with the one key.
    let ids: Vec<String> = futures::future::join_all(
        nodes
            .iter()
            .map(|node| async move { workspace_of(&node.base(), BOOTSTRAP_KEY).await }),
    )
    .await;
    assert_eq!(ids[0], ids[1]);
    stop_all(nodes, log).await;
}

#[test]
fn a_bad_or_unreachable_store_is_a_clear_error_that_never_shows_the_password() {
    let dir = TempDir::new().unwrap();
    let data_dir = dir.path().join("node");
    let run = |store: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tahc"))
            .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("TAHC_STORE")
            .output()
            .unwrap()
    };
    let refused = |store: &str, code: i32, says: &[&str]| {
        let output = run(store);
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{said}");
        for words in says {
            assert!(said.contains(words), "{said}");
        }
        assert!(!said.contains("hunter2"), "{said}");
    };
    refused(
        "mysql://tahc:hunter2@db/tahc",
        2,
        &["--store", "neither `sled` nor a postgres:// URL"],
    );
    // Nothing listens on port 1.
    refused(
        "postgres://tahc:hunter2@127.0.0.1:1/tahc",
        1,
        &["cannot start", "postgres://tahc:***@127.0.0.1:1/tahc"],
    );
    assert!(!data_dir.exists(), "nothing was created");
}
