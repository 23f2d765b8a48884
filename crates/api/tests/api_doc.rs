//! Every GraphQL example of docs/api.md runs, as an admin, against a real
//! node without a single error: queries and mutations over HTTP,
//! subscriptions over WebSocket (a `json` block right after a `graphql`
//! block holds its variables).

mod support;

use serde_json::{Value, json};
use support::Server;
use support::ws::{Frame, Ws};

/// The fenced blocks of a markdown text: (language, body).
fn blocks(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(language)) => current = Some((language.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_in_the_api_guide_runs() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
    )
    .unwrap();
    let blocks = blocks(&guide);
    let server = Server::start().await;
    let mut ran = 0;
    for (i, (language, query)) in blocks.iter().enumerate() {
        if language != "graphql" {
            continue;
        }
        let variables = match blocks.get(i + 1) {
            Some((next, text)) if next == "json" => serde_json::from_str(text).unwrap(),
            _ => json!({}),
        };
        if query.trim_start().starts_with("subscription") {
            // Accepted: no `error` answer; changes come when things happen.
            let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
            ws.subscribe("doc", query, variables).await;
            match ws.frame_within(std::time::Duration::from_millis(300)).await {
                None => {}
                Some(Frame::Json(message)) => {
                    assert_ne!(message["type"], "error", "{query}\n{message}");
                }
                Some(closed) => panic!("{query}\n{closed:?}"),
            }
        } else {
            let answer = server
                .graphql(Some(&server.admin_key), query, variables)
                .await;
            assert_eq!(answer["errors"], Value::Null, "{query}\n{answer}");
        }
        ran += 1;
    }
    assert!(ran >= 8, "only {ran} examples ran");
}
