//! Rate limits that hold however a request is shaped: aliased mutation
//! fields are each charged, and widget sessions are limited and write
//! nothing.

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{
    BOOTSTRAP_KEY, graphql, serve, start_conversation, tahc_on, visitor, workspace_of,
};

/// A mutation posting `count` messages under aliases.
fn aliased_posts(count: usize) -> String {
    let fields: String = (0..count)
        .map(|n| format!("m{n}: sendMessage(input: {{conversationId: $c, body: \"spam {n}\"}}) {{ message {{ id }} }} "))
        .collect();
    format!("mutation($c: ID!) {{ {fields}}}")
}

async fn message_count(base: &str, conversation: &str) -> usize {
    let answer = graphql(
        base,
        BOOTSTRAP_KEY,
        "query($id: ID!) { node(id: $id) { ... on Conversation { messages(first: 100) { nodes { id } } } } }",
        json!({ "id": conversation }),
    )
    .await;
    answer["data"]["node"]["messages"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_aliased_posts_are_refused_whole_and_each_allowed_alias_is_charged() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    let conversation = start_conversation(&served.base, &token, "hello").await;

    let refused = graphql(
        &served.base,
        &token,
        &aliased_posts(300),
        json!({ "c": conversation }),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
    assert!(refused.get("data").is_none_or(Value::is_null), "{refused}");
    assert_eq!(
        message_count(&served.base, &conversation).await,
        1,
        "nothing was posted"
    );

    // The burst is 30: the conversation took 1 and the refused request 1;
    // two requests of ten posts take 20, a third finds 8 left.
    for _ in 0..2 {
        let posted = graphql(
            &served.base,
            &token,
            &aliased_posts(10),
            json!({ "c": conversation }),
        )
        .await;
        assert!(posted.get("errors").is_none(), "{posted}");
    }
    let limited = graphql(
        &served.base,
        &token,
        &aliased_posts(10),
        json!({ "c": conversation }),
    )
    .await;
    assert_eq!(
        limited["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{limited}"
    );
    assert!(
        limited["errors"][0]["extensions"]["retryAfter"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(message_count(&served.base, &conversation).await, 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widget_sessions_write_nothing_and_are_limited_per_address() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let client = reqwest::Client::new();
    let session = || {
        client
            .post(format!("{}/widget/session", served.base))
            .json(&json!({ "workspace": workspace }))
            .send()
    };
    let mut tokens = Vec::new();
    for _ in 0..20 {
        let answer = session().await.unwrap();
        assert_eq!(answer.status(), 200);
        let answer: Value = answer.json().await.unwrap();
        tokens.push(answer["token"].as_str().unwrap().to_owned());
    }
    let limited = session().await.unwrap();
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    // Twenty sessions, and not one visitor in the log; the visitor that
    // writes is recorded then, and its token works as before.
    let started = start_conversation(&served.base, &tokens[0], "first words").await;
    assert!(!started.is_empty());
    let viewer = graphql(
        &served.base,
        &tokens[1],
        "{ viewer { role visitor { id } } }",
        json!({}),
    )
    .await;
    assert!(viewer.get("errors").is_none(), "{viewer}");
    crate::support::stop(served);
    let events = tahc_on(
        dir.path(),
        &["events", "--json", "--type", "visitor.first_seen"],
    );
    assert!(events.status.success());
    let seen = String::from_utf8(events.stdout).unwrap();
    assert_eq!(seen.lines().count(), 1, "{seen}");
}
