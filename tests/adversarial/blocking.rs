//! Blocking holds against the obvious workarounds: a new session from the
//! same address, and the same person on another device.

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, graphql, serve, start_conversation, visitor, workspace_of};

const SEND: &str = "mutation($c: ID!, $b: String!) { sendMessage(input: {conversationId: $c, body: $b}) { message { id } userErrors { code } } }";

async fn visitor_id(base: &str, token: &str) -> Value {
    graphql(base, token, "{ viewer { visitor { id } } }", json!({})).await["data"]["viewer"]["visitor"]["id"].clone()
}

async fn block(base: &str, visitor: &Value) {
    let blocked = graphql(
        base,
        BOOTSTRAP_KEY,
        "mutation($v: ID!) { blockVisitor(input: {visitorId: $v, reason: \"abuse\"}) { userErrors { code } } }",
        json!({ "v": visitor }),
    )
    .await;
    assert_eq!(
        blocked["data"]["blockVisitor"]["userErrors"],
        json!([]),
        "{blocked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_person_cannot_write_from_another_device_nor_open_a_new_session_from_its_address()
{
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let base = &served.base;
    let workspace = workspace_of(base, BOOTSTRAP_KEY).await;
    // One person on two devices, known as one contact (the team confirmed
    // the second device's address).
    let laptop = visitor(base, &workspace).await;
    start_conversation(base, &laptop, "hi from the laptop").await;
    graphql(base, &laptop, "mutation { identifyVisitor(input: {email: \"troll@example.com\"}) { userErrors { code } } }", json!({})).await;
    let phone = visitor(base, &workspace).await;
    let on_phone = start_conversation(base, &phone, "hi from the phone").await;
    graphql(base, &phone, "mutation { identifyVisitor(input: {email: \"troll@example.com\"}) { userErrors { code } } }", json!({})).await;
    let phone_id = visitor_id(base, &phone).await;
    let confirmed = graphql(
        base,
        BOOTSTRAP_KEY,
        "mutation($v: ID!) { confirmVisitorEmail(input: {visitorId: $v}) { userErrors { code } } }",
        json!({ "v": phone_id }),
    )
    .await;
    assert_eq!(
        confirmed["data"]["confirmVisitorEmail"]["userErrors"],
        json!([]),
        "{confirmed}"
    );

    // The team blocks the laptop's visitor.
    block(base, &visitor_id(base, &laptop).await).await;

    // The phone is the same person: it cannot write either.
    let refused = graphql(
        base,
        &phone,
        SEND,
        json!({ "c": on_phone, "b": "still me" }),
    )
    .await;
    assert_eq!(
        refused["data"]["sendMessage"]["userErrors"][0]["code"], "BLOCKED",
        "{refused}"
    );
    let refused = graphql(
        base,
        &phone,
        "mutation { startConversation(input: {body: \"new one\"}) { userErrors { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        refused["data"]["startConversation"]["userErrors"][0]["code"], "BLOCKED",
        "{refused}"
    );

    // A new session from the address the blocked visitor used is refused.
    // The block reaches the address as the node applies it.
    let session = crate::eventually(|| async {
        let response = reqwest::Client::new()
            .post(format!("{base}/widget/session"))
            .json(&json!({ "workspace": workspace }))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            403 => Some(response.json::<Value>().await.unwrap()),
            _ => None,
        }
    })
    .await;
    let session = session.expect("new sessions from a blocked address are refused");
    assert!(
        session["error"].as_str().unwrap().contains("blocked"),
        "{session}"
    );
}
