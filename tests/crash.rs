//! The whole server killed with SIGKILL at random moments while 32 clients
//! post messages, change statuses and identify visitors, twenty times over,
//! restarting each time: every mutation that returned success is there
//! after the restart exactly as its client saw it, the hash chain holds, and
//! at the end the views equal a fresh `tahc rebuild` of the same log, byte
//! for byte.
//!
//! `TAHC_CRASH_ROUNDS` changes the number of rounds (default 20).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};
use support::{BOOTSTRAP_KEY, kill, serve_with, stop, tahc_on, workspace_of};
use tahc_projections::Views;
use tempfile::TempDir;

const VISITORS: usize = 24;
const AGENTS: usize = 8;
/// Rate limits off: the load is the point.
const FLAGS: &[&str] = support::NO_RATE_LIMITS;

/// What a client was told when a mutation succeeded.
#[derive(Debug, Clone)]
enum Ack {
    /// A message, and the conversation as the payload showed it.
    Message {
        id: String,
        body: String,
        seen: Seen,
    },
    /// A status change, and the conversation as the payload showed it.
    Status(Seen),
    /// An identification: the contact's email.
    Contact { email: String },
}

/// A conversation as a mutation's payload showed it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    conversation: String,
    position: String,
    status: String,
    message_count: i64,
}

/// What one round's clients share: the acknowledgements and the
/// conversations the agents may change.
#[derive(Default)]
struct Round {
    acks: Mutex<Vec<Ack>>,
    conversations: Mutex<Vec<String>>,
}

impl Round {
    fn ack(&self, ack: Ack) {
        self.acks.lock().unwrap().push(ack);
    }
}

/// One request: the response's JSON, or `None` when the server is gone.
async fn request(
    http: &reqwest::Client,
    base: &str,
    credential: &str,
    query: &str,
    variables: Value,
) -> Option<Value> {
    let response = http
        .post(format!("{base}/graphql"))
        .bearer_auth(credential)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

/// What every mutation of the load asks back.
const PAYLOAD: &str = "conversation{id position status messageCount} userErrors{message}";

fn seen(conversation: &Value) -> Seen {
    Seen {
        conversation: conversation["id"].as_str().unwrap().to_owned(),
        position: conversation["position"].as_str().unwrap().to_owned(),
        status: conversation["status"].as_str().unwrap().to_owned(),
        message_count: conversation["messageCount"].as_i64().unwrap(),
    }
}

/// The payload of `field` when it succeeded with no user error.
fn succeeded<'a>(response: &'a Value, field: &str) -> Option<&'a Value> {
    let payload = &response["data"][field];
    let clean = payload.is_object()
        && response.get("errors").is_none()
        && payload["userErrors"].as_array().is_some_and(Vec::is_empty);
    clean.then_some(payload)
}

/// A visitor: starts a conversation, chats, and identifies itself once.
async fn visitor(base: String, workspace: String, name: String, round: Arc<Round>) {
    let http = reqwest::Client::new();
    let Ok(session) = http
        .post(format!("{base}/widget/session"))
        .json(&json!({ "workspace": workspace }))
        .send()
        .await
    else {
        return;
    };
    let Ok(session) = session.json::<Value>().await else {
        return;
    };
    let token = session["token"].as_str().unwrap().to_owned();
    let first = format!("{name} m0");
    let query = format!(
        "mutation($b:String!){{startConversation(input:{{body:$b}}){{message{{id}} {PAYLOAD}}}}}"
    );
    let Some(started) = request(&http, &base, &token, &query, json!({"b": first})).await else {
        return;
    };
    let payload = succeeded(&started, "startConversation").unwrap_or_else(|| panic!("{started}"));
    let conversation = payload["conversation"]["id"].as_str().unwrap().to_owned();
    round.ack(Ack::Message {
        id: payload["message"]["id"].as_str().unwrap().to_owned(),
        body: first,
        seen: seen(&payload["conversation"]),
    });
    round
        .conversations
        .lock()
        .unwrap()
        .push(conversation.clone());
    let send = format!(
        "mutation($c:ID!,$b:String!){{sendMessage(input:{{conversationId:$c,body:$b}}){{message{{id}} {PAYLOAD}}}}}"
    );
    for n in 1.. {
        if n == 5 {
            let email = format!("{}@crash.test", name.replace(' ', "."));
            let Some(identified) = request(
                &http,
                &base,
                &token,
                "mutation($e:String!){identifyVisitor(input:{email:$e}){contact{id} userErrors{message}}}",
                json!({"e": email}),
            )
            .await
            else {
                return;
            };
            if succeeded(&identified, "identifyVisitor").is_some() {
                round.ack(Ack::Contact { email });
            }
        }
        let body = format!("{name} m{n}");
        let Some(sent) = request(
            &http,
            &base,
            &token,
            &send,
            json!({"c": conversation, "b": body}),
        )
        .await
        else {
            return;
        };
        if let Some(payload) = succeeded(&sent, "sendMessage") {
            round.ack(Ack::Message {
                id: payload["message"]["id"].as_str().unwrap().to_owned(),
                body,
                seen: seen(&payload["conversation"]),
            });
        }
    }
}

/// An agent: moves random conversations of the round between statuses.
async fn agent(base: String, round: Arc<Round>) {
    let http = reqwest::Client::new();
    let query = format!(
        "mutation($c:ID!,$s:ConversationStatus!){{setConversationStatus(input:{{conversationId:$c,status:$s}}){{{PAYLOAD}}}}}"
    );
    loop {
        let pick = {
            let conversations = round.conversations.lock().unwrap();
            let mut rng = rand::rng();
            (!conversations.is_empty()).then(|| {
                let conversation = conversations[rng.random_range(0..conversations.len())].clone();
                let status = ["OPEN", "PENDING", "CLOSED"][rng.random_range(0..3)];
                (conversation, status)
            })
        };
        let Some((conversation, status)) = pick else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let Some(changed) = request(
            &http,
            &base,
            BOOTSTRAP_KEY,
            &query,
            json!({"c": conversation, "s": status}),
        )
        .await
        else {
            return;
        };
        if let Some(payload) = succeeded(&changed, "setConversationStatus") {
            round.ack(Ack::Status(seen(&payload["conversation"])));
        }
    }
}

/// Asks the admin `query`, expecting no errors.
async fn admin(base: &str, query: &str, variables: Value) -> Value {
    let response = request(
        &reqwest::Client::new(),
        base,
        BOOTSTRAP_KEY,
        query,
        variables,
    )
    .await
    .expect("the restarted server answers");
    assert!(response.get("errors").is_none(), "{response}");
    response["data"].clone()
}

/// Checks every acknowledgement against the restarted server.
async fn check(base: &str, acks: &[Ack]) {
    let mut conversations = Vec::new();
    let mut messages = BTreeMap::new();
    let mut emails = Vec::new();
    for ack in acks {
        match ack {
            Ack::Message { id, body, seen } => {
                messages.insert(id.clone(), body.clone());
                conversations.push(seen);
            }
            Ack::Status(seen) => conversations.push(seen),
            Ack::Contact { email } => emails.push(email.clone()),
        }
    }
    // Each conversation stood, at the position its payload named, exactly as
    // the client was shown.
    for chunk in conversations.chunks(40) {
        let fields: String = chunk
            .iter()
            .enumerate()
            .map(|(i, seen)| {
                format!(
                    "c{i}:conversationAsOf(id:\"{}\",position:\"{}\"){{id position status messageCount}} ",
                    seen.conversation, seen.position
                )
            })
            .collect();
        let data = admin(base, &format!("{{{fields}}}"), json!({})).await;
        for (i, expected) in chunk.iter().enumerate() {
            let found = &data[format!("c{i}")];
            assert!(found.is_object(), "acknowledged {expected:?} is gone");
            assert_eq!(
                &&seen(found),
                expected,
                "acknowledged state differs after the crash"
            );
        }
    }
    // Every acknowledged message is there with its body.
    let ids: Vec<_> = messages.keys().cloned().collect();
    let found = support::messages(base, BOOTSTRAP_KEY, &ids).await;
    assert_eq!(found.len(), ids.len());
    for (id, node) in ids.iter().zip(&found) {
        assert_eq!(
            node["id"].as_str(),
            Some(id.as_str()),
            "acknowledged message {id} is gone"
        );
        assert_eq!(node["body"].as_str(), Some(messages[id].as_str()));
    }
    // Every acknowledged identification made a contact.
    for email in emails {
        let data = admin(
            base,
            "query($e:String!){contactByEmail(email:$e){id}}",
            json!({"e": email}),
        )
        .await;
        assert!(
            data["contactByEmail"]["id"].is_string(),
            "acknowledged contact {email} is gone"
        );
    }
}

/// Waits until the restarted server's views have caught up with its log.
async fn ready(base: &str) {
    for _ in 0..600 {
        let status = reqwest::get(format!("{base}/readyz"))
            .await
            .map(|r| r.status());
        if status.is_ok_and(|s| s.is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the restarted server never caught up");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A view's entries, key and value, in key order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Every view of a data directory, entry by entry.
fn views(dir: &Path) -> BTreeMap<String, Entries> {
    let views = Views::open(dir.join("views")).unwrap();
    views
        .names()
        .into_iter()
        .map(|name| {
            let entries = views
                .view(&name)
                .unwrap()
                .scan([])
                .map(|entry| {
                    let (key, value) = entry.unwrap();
                    (key.to_vec(), value.to_vec())
                })
                .collect();
            (name, entries)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_nothing_acknowledged_and_the_views_equal_a_rebuild() {
    let rounds: usize = std::env::var("TAHC_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let dir = TempDir::new().unwrap();
    let mut served = serve_with(&dir, Some(BOOTSTRAP_KEY), FLAGS);
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let mut all = Vec::new();
    for number in 0..rounds {
        let round = Arc::new(Round::default());
        let mut clients = Vec::new();
        for v in 0..VISITORS {
            let name = format!("round{number} visitor{v}");
            clients.push(tokio::spawn(visitor(
                served.base.clone(),
                workspace.clone(),
                name,
                round.clone(),
            )));
        }
        for _ in 0..AGENTS {
            clients.push(tokio::spawn(agent(served.base.clone(), round.clone())));
        }
        let at = rand::rng().random_range(300..1_500);
        tokio::time::sleep(Duration::from_millis(at)).await;
        kill(served);
        for client in clients {
            client.await.expect("a client panicked");
        }
        let verified = tahc_on(dir.path(), &["verify"]);
        assert!(
            verified.status.success(),
            "round {number}: the hash chain broke: {}",
            String::from_utf8_lossy(&verified.stdout)
        );
        served = serve_with(&dir, None, FLAGS);
        ready(&served.base).await;
        let acks = std::mem::take(&mut *round.acks.lock().unwrap());
        check(&served.base, &acks).await;
        all.extend(acks);
    }
    assert!(
        all.len() >= rounds * VISITORS,
        "the load hardly ran: {} acknowledgements in {rounds} rounds",
        all.len()
    );
    eprintln!(
        "{rounds} crashes, {} acknowledged mutations checked",
        all.len()
    );
    // Everything from every round is still there at the end.
    check(&served.base, &all).await;
    stop(served);

    let rebuilt = TempDir::new().unwrap();
    copy_dir(dir.path(), rebuilt.path());
    let rebuild = tahc_on(rebuilt.path(), &["rebuild"]);
    assert!(
        rebuild.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuild.stderr)
    );
    let (crashed, fresh) = (views(dir.path()), views(rebuilt.path()));
    assert_eq!(
        crashed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (name, entries) in &crashed {
        assert!(
            entries == &fresh[name],
            "view {name} differs from a rebuild of the same log"
        );
    }
}
