//! Revoking a person ends what they have open: live connections close with
//! 4403 and carry nothing that happened after the revocation.

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, graphql, serve, start_conversation, visitor, workspace_of};
use crate::ws::{Frame, Ws};
use crate::ws_url;

const INBOX: &str = "subscription { conversationChanges { kind message { body } } }";
const LOG: &str = "subscription { events(after: \"0\") { type } }";

/// A new team member with `role`: its id and key.
async fn member(base: &str, role: &str) -> (String, String) {
    let added = graphql(
        base,
        BOOTSTRAP_KEY,
        "mutation($r: Role!, $e: String!) { addAgent(input: {name: \"Sam\", email: $e, role: $r}) { agent { id } apiKey } }",
        json!({ "r": role, "e": format!("{}@acme.example", role.to_lowercase()) }),
    )
    .await;
    let added = &added["data"]["addAgent"];
    (
        added["agent"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{added}"))
            .to_owned(),
        added["apiKey"].as_str().unwrap().to_owned(),
    )
}

/// Reads frames until the connection closes: the bodies of the messages
/// it carried, and the close code.
async fn bodies_until_closed(ws: &mut Ws) -> (Vec<String>, u16) {
    let mut bodies = Vec::new();
    loop {
        match ws.frame_within(Duration::from_secs(10)).await {
            Some(Frame::Json(message)) => {
                let body = &message["payload"]["data"]["conversationChanges"]["message"]["body"];
                if let Some(body) = body.as_str() {
                    bodies.push(body.to_owned());
                }
            }
            Some(Frame::Closed(code, _)) => return (bodies, code),
            None => panic!("still open 10 s after the revocation; carried {bodies:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_agents_subscription_closes_with_4403_and_carries_nothing_after() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let (agent_id, key) = member(&served.base, "AGENT").await;
    let mut ws = Ws::open(&ws_url(&served.base), &key).await;
    ws.subscribe("inbox", INBOX, json!({})).await;
    let token = visitor(&served.base, &workspace).await;
    start_conversation(&served.base, &token, "before").await;
    // Delivered while the agent is active.
    while ws.nexts("inbox", 1).await[0]["data"]["conversationChanges"]["message"]["body"]
        != "before"
    {}

    let deactivated = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        "mutation($a: ID!) { deactivateAgent(input: {agentId: $a}) { agent { active } } }",
        json!({ "a": agent_id }),
    )
    .await;
    assert_eq!(
        deactivated["data"]["deactivateAgent"]["agent"]["active"], false,
        "{deactivated}"
    );
    let other = visitor(&served.base, &workspace).await;
    start_conversation(&served.base, &other, "after").await;
    let (bodies, code) = bodies_until_closed(&mut ws).await;
    assert_eq!(code, 4403);
    assert!(!bodies.contains(&"after".to_owned()), "{bodies:?}");
    // And the key opens nothing new.
    let mut again = Ws::connect(&ws_url(&served.base)).await;
    again
        .send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {key}")}}))
        .await;
    assert_eq!(again.closed().await.0, 4403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditors_event_stream_closes_with_4403_when_its_key_is_rotated() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let (auditor_id, key) = member(&served.base, "AUDITOR").await;
    let mut ws = Ws::open(&ws_url(&served.base), &key).await;
    ws.subscribe("log", LOG, json!({})).await;
    let first: Value = ws.nexts("log", 1).await.remove(0);
    assert!(first["data"]["events"]["type"].is_string(), "{first}");
    let rotated = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        "mutation($a: ID!) { rotateApiKey(input: {agentId: $a}) { apiKey } }",
        json!({ "a": auditor_id }),
    )
    .await;
    let new_key = rotated["data"]["rotateApiKey"]["apiKey"].as_str().unwrap();
    let mut types = Vec::new();
    let code = loop {
        match ws.frame_within(Duration::from_secs(10)).await {
            Some(Frame::Json(message)) => {
                types.push(message["payload"]["data"]["events"]["type"].clone());
            }
            Some(Frame::Closed(code, _)) => break code,
            None => panic!("still open 10 s after the rotation"),
        }
    };
    assert_eq!(code, 4403);
    assert!(
        !types.contains(&json!("workspace.agent_key_rotated")),
        "the revoking event itself is not sent: {types:?}"
    );
    // The new key works.
    let mut fresh = Ws::open(&ws_url(&served.base), new_key).await;
    fresh.subscribe("log", LOG, json!({})).await;
    assert!(fresh.nexts("log", 1).await[0]["data"]["events"]["type"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_visitors_token_stops_working_and_its_connection_closes() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    let conversation = start_conversation(&served.base, &token, "hello").await;
    graphql(
        &served.base,
        &token,
        "mutation { identifyVisitor(input: {email: \"erase.me@example.com\"}) { userErrors { code } } }",
        json!({}),
    )
    .await;
    let contact = crate::support::contact_by_email(&served.base, "erase.me@example.com").await;
    let mut ws = Ws::open(&ws_url(&served.base), &token).await;
    ws.subscribe(
        "timeline",
        "subscription($c: ID!) { conversationTimeline(conversationId: $c) { kind } }",
        json!({ "c": conversation }),
    )
    .await;
    let erased = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        "mutation($c: ID!) { eraseContact(input: {contactId: $c}) { userErrors { message } } }",
        json!({ "c": contact }),
    )
    .await;
    assert_eq!(
        erased["data"]["eraseContact"]["userErrors"],
        json!([]),
        "{erased}"
    );
    assert_eq!(ws.closed().await.0, 4403);
    let refused = graphql(
        &served.base,
        &token,
        "mutation($c: ID!) { sendMessage(input: {conversationId: $c, body: \"still here\"}) { message { id } } }",
        json!({ "c": conversation }),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
}
