//! Every error carries its code, every refusal is counted, and the pages
//! say what may load them and who may frame them.

use serde_json::json;
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, graphql, serve, visitor, workspace_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_out_of_their_types_range_answer_bad_user_input() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    for (query, variables) in [
        (
            "{ conversations(first: 2147483648) { totalCount } }",
            json!({}),
        ),
        (
            "query($f: Int) { conversations(first: $f) { totalCount } }",
            json!({ "f": 2147483648_u64 }),
        ),
        (
            "{ conversationAsOf(id: \"x\", at: \"99999-01-01T00:00:00Z\") { id } }",
            json!({}),
        ),
    ] {
        let answer = graphql(&served.base, BOOTSTRAP_KEY, query, variables).await;
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_at_the_gate_are_counted_with_the_errors_of_requests_that_ran() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    let denied = graphql(
        &served.base,
        "tahc_not_a_key",
        "{ viewer { role } }",
        json!({}),
    )
    .await;
    assert_eq!(denied["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let mut limited = false;
    for _ in 0..40 {
        let answer = graphql(&served.base, &token, "{ viewer { role } }", json!({})).await;
        limited |= answer["errors"][0]["extensions"]["code"] == "RATE_LIMITED";
    }
    assert!(limited, "a visitor's burst is 30");
    let metrics = reqwest::get(format!("{}/metrics", served.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for code in ["UNAUTHENTICATED", "RATE_LIMITED"] {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("tahc_graphql_errors_total") && line.contains(code)),
            "{code} is not counted:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_allow_only_their_own_scripts_and_no_framing() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    for path in ["/", "/widget-demo", "/assets/inbox.js"] {
        let response = reqwest::get(format!("{}{path}", served.base))
            .await
            .unwrap();
        let headers = response.headers();
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
}
