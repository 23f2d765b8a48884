//! Characters that act on a display instead of showing (escape sequences,
//! NUL, BEL, bidirectional overrides) are refused in every text, and line
//! breaks in names; nothing is written.

use serde_json::json;
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, graphql, serve, start_conversation, visitor, workspace_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_with_a_user_error_and_nothing_is_stored() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let base = &served.base;
    let workspace = workspace_of(base, BOOTSTRAP_KEY).await;
    let token = visitor(base, &workspace).await;
    let conversation = start_conversation(base, &token, "hello").await;
    let send = "mutation($c: ID!, $b: String!) { sendMessage(input: {conversationId: $c, body: $b}) { message { id } userErrors { field code } } }";
    for body in [
        "nul\0",
        "bell\u{7}",
        "\u{1b}[2J\u{1b}[31mred",
        "evil\u{202e}fdp.exe",
    ] {
        let refused = graphql(base, &token, send, json!({ "c": conversation, "b": body })).await;
        assert_eq!(
            refused["data"]["sendMessage"]["userErrors"],
            json!([{ "field": ["input", "body"], "code": "INVALID" }]),
            "{body:?}: {refused}"
        );
    }
    let fine = graphql(
        base,
        &token,
        send,
        json!({ "c": conversation, "b": "two\nlines, עברית" }),
    )
    .await;
    assert!(
        fine["data"]["sendMessage"]["message"]["id"].is_string(),
        "{fine}"
    );
    let named = graphql(
        base,
        &token,
        "mutation { identifyVisitor(input: {email: \"ada@example.com\", name: \"Ada\\nAdmin\"}) { userErrors { field code } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        named["data"]["identifyVisitor"]["userErrors"],
        json!([{ "field": ["input", "name"], "code": "INVALID" }]),
        "{named}"
    );
    let count = graphql(
        base,
        BOOTSTRAP_KEY,
        "query($c: ID!) { node(id: $c) { ... on Conversation { messageCount } } }",
        json!({ "c": conversation }),
    )
    .await;
    assert_eq!(count["data"]["node"]["messageCount"], 2, "{count}");
}
