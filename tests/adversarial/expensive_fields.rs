//! Fields that walk the whole log cannot be bought a thousand at a time.

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, graphql, serve, start_conversation, visitor, workspace_of};

fn aliased_verifications(count: usize) -> String {
    let fields: String = (0..count)
        .map(|n| format!("v{n}: verifyLog {{ ok checkedEvents }} "))
        .collect();
    format!("{{ {fields}}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_aliased_verifications_are_refused_and_a_few_share_one_walk() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    start_conversation(&served.base, &token, "hello").await;

    let refused = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        &aliased_verifications(1_000),
        json!({}),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert!(
        refused.get("data").is_none_or(Value::is_null),
        "nothing ran"
    );

    let few = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        &aliased_verifications(20),
        json!({}),
    )
    .await;
    assert!(few.get("errors").is_none(), "{few}");
    let answers: Vec<&Value> = few["data"].as_object().unwrap().values().collect();
    assert_eq!(answers.len(), 20);
    let first = answers[0].clone();
    assert_eq!(first["ok"], true);
    assert!(first["checkedEvents"].as_i64().unwrap() > 3, "{first}");
    assert!(answers.iter().all(|answer| **answer == first), "{few}");
    // Later events are checked too.
    start_conversation(&served.base, &token, "more").await;
    let again = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        "{ verifyLog { ok checkedEvents } }",
        json!({}),
    )
    .await;
    assert_eq!(again["data"]["verifyLog"]["ok"], true);
    assert!(again["data"]["verifyLog"]["checkedEvents"].as_i64() > first["checkedEvents"].as_i64());
}
