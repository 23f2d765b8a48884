//! Values nested thousands of levels deep, in every place a document or a
//! message carries one: refused with a typed error, and the server lives.

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, serve, visitor, workspace_of};
use crate::ws::Ws;
use crate::ws_url;

const DEEP: usize = 2_000;

fn lists() -> String {
    format!("{}1{}", "[".repeat(DEEP), "]".repeat(DEEP))
}

fn objects() -> String {
    format!("{}1{}", "{a: ".repeat(DEEP), "}".repeat(DEEP))
}

/// The documents of the report: a deep list and a deep object as an
/// argument, as a variable's default value, as a directive's argument.
fn deep_documents() -> Vec<String> {
    vec![
        format!("query {{ nodes(ids: {}) {{ id }} }}", lists()),
        format!("query {{ nodes(ids: {}) {{ id }} }}", objects()),
        format!(
            "query($v: [ID!] = {}) {{ nodes(ids: $v) {{ id }} }}",
            lists()
        ),
        format!("query {{ viewer @include(if: {}) {{ role }} }}", lists()),
        format!("query {}", "{ viewer ".repeat(DEEP) + &"}".repeat(DEEP)),
        // An unclosed block string, which the parser reads as `""` and
        // `"x"` before the lists: it must hide nothing from the count.
        format!("{{ nodes(ids: [\"\"\"x\" {}]) {{ id }} }}", lists()),
    ]
}

async fn post(base: &str, credential: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(body);
    if let Some(credential) = credential {
        request = request.bearer_auth(credential);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The server still answers.
async fn assert_alive(base: &str) {
    let (status, alive) = post(
        base,
        Some(BOOTSTRAP_KEY),
        &json!({ "query": "{ viewer { role } }" }),
    )
    .await;
    assert_eq!(
        (status, &alive["data"]["viewer"]["role"]),
        (200, &json!("ADMIN"))
    );
}

fn assert_refused_as_bad_input(answer: &Value) {
    let code = &answer["errors"][0]["extensions"]["code"];
    assert_eq!(code, "BAD_USER_INPUT", "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nests deeper"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_values_in_an_anonymous_post_or_get_are_refused_and_the_server_lives() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    for document in deep_documents() {
        let (_, answer) = post(&served.base, None, &json!({ "query": document })).await;
        assert_refused_as_bad_input(&answer);
        let answer: Value = reqwest::Client::new()
            .get(format!("{}/graphql", served.base))
            .query(&[("query", document.as_str())])
            .send()
            .await
            .expect("the server answers a GET")
            .json()
            .await
            .unwrap();
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    // A deep variable value (JSON nests up to 128 before its decoder stops).
    let deep_variable: Value =
        serde_json::from_str(&format!("{}\"x\"{}", "[".repeat(100), "]".repeat(100))).unwrap();
    let (_, answer) = post(
        &served.base,
        Some(BOOTSTRAP_KEY),
        &json!({ "query": "query($v: [ID!]) { nodes(ids: $v) { id } }", "variables": { "v": deep_variable } }),
    )
    .await;
    assert_refused_as_bad_input(&answer);
    assert_alive(&served.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_values_over_a_visitors_websocket_are_refused_and_the_server_lives() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    let mut socket = Ws::open(&ws_url(&served.base), &token).await;
    for (n, document) in deep_documents().into_iter().enumerate() {
        socket.subscribe(&n.to_string(), &document, json!({})).await;
        let answer = socket.message().await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(
            answer["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{answer}"
        );
    }
    assert_alive(&served.base).await;
}
