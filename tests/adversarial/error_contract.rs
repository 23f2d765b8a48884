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
async fn input_mistakes_are_bad_user_input_over_http_and_websocket_never_internal() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    for query in [
        "query($x: ID!) { node(id: $x) { id } }",
        "subscription { conversationChanges { kind } }",
        // A list of an unknown type with a default value panics in
        // async-graphql's validation (found by the graphql_document fuzz
        // target): refused before it runs.
        "query($v: [Nope!] = some) { viewer { role } }",
    ] {
        let answer = graphql(&served.base, BOOTSTRAP_KEY, query, json!({})).await;
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {answer}"
        );
    }
    let mut ws = crate::ws::Ws::open(&crate::ws_url(&served.base), BOOTSTRAP_KEY).await;
    for (n, query) in [
        "{ nope }",
        "{ viewer {",
        "query($v: [[Nope]] = 1) { viewer { role } }",
        "subscription($c: ID!) { conversationTimeline(conversationId: $c) { kind } }",
    ]
    .into_iter()
    .enumerate()
    {
        ws.subscribe(&n.to_string(), query, json!({})).await;
        let answer = ws.message().await;
        assert_eq!(answer["type"], "error", "{query}: {answer}");
        assert_eq!(
            answer["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_is_bounded_in_length_and_words() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let words: Vec<String> = (0..1_000).map(|n| format!("w{n}")).collect();
    for query in [
        "query($s: String!) { conversations(filter: {search: $s}) { totalCount } }",
        "query($s: String!) { contacts(search: $s) { totalCount } }",
    ] {
        let answer = graphql(
            &served.base,
            BOOTSTRAP_KEY,
            query,
            json!({ "s": words.join(" ") }),
        )
        .await;
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {answer}"
        );
        let fine = graphql(
            &served.base,
            BOOTSTRAP_KEY,
            query,
            json!({ "s": "order refund" }),
        )
        .await;
        assert!(fine.get("errors").is_none(), "{query}: {fine}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_http_methods_do_not_grow_the_metrics() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let address = served.base.trim_start_matches("http://").to_owned();
    for n in 0..20 {
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let method = format!("M{n:04}{}", "A".repeat(2_000));
        socket
            .write_all(
                format!("{method} /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
    }
    let metrics = reqwest::get(format!("{}/metrics", served.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("AAAAAAAA"),
        "a client's method became a label"
    );
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
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
