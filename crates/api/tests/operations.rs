//! What an operator watches: health, readiness and the Prometheus metrics.

mod support;

use serde_json::json;
use support::Server;
use support::ws::Ws;

/// The value of the first sample of `metric` whose line contains every one
/// of `labels`.
fn sample(metrics: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.split([' ', '{'])
                .next()
                .is_some_and(|name| name == metric)
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

async fn scrape(server: &Server) -> String {
    let response = server
        .client()
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_once_the_views_caught_up() {
    let server = Server::start().await;
    for (path, body) in [("healthz", "ok"), ("readyz", "ready")] {
        let response = server
            .client()
            .get(format!("{}/{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_appends_requests_errors_connections_and_subscriptions() {
    let server = Server::start().await;
    let visitor = server.visitor_token().await;
    server.conversation_of(&visitor, "hello").await;
    let forbidden = server
        .graphql(Some(&visitor), "{conversationCounts{open}}", json!({}))
        .await;
    assert_eq!(support::code(&forbidden), "FORBIDDEN", "{forbidden}");
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.subscribe(
        "inbox",
        "subscription{conversationChanges{position}}",
        json!({}),
    )
    .await;
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.message().await["type"], "pong");

    let metrics = scrape(&server).await;
    let at_least = |metric: &str, labels: &[&str], floor: f64| {
        let value = sample(&metrics, metric, labels)
            .unwrap_or_else(|| panic!("no {metric} {labels:?} in\n{metrics}"));
        assert!(value >= floor, "{metric} {labels:?} = {value}");
    };
    at_least("tahc_appended_events_total", &[], 2.0);
    at_least("tahc_append_seconds_count", &[], 1.0);
    at_least(
        "tahc_graphql_requests_total",
        &["operation=\"mutation\""],
        1.0,
    );
    at_least("tahc_graphql_requests_total", &["operation=\"query\""], 1.0);
    at_least(
        "tahc_graphql_request_seconds_count",
        &["operation=\"query\""],
        1.0,
    );
    at_least("tahc_graphql_errors_total", &["code=\"FORBIDDEN\""], 1.0);
    at_least(
        "tahc_http_requests_total",
        &["route=\"/graphql\"", "method=\"POST\"", "status=\"200\""],
        2.0,
    );
    at_least(
        "tahc_http_request_seconds_count",
        &["route=\"/graphql\"", "method=\"POST\""],
        2.0,
    );
    at_least("tahc_websocket_connections", &[], 1.0);
    at_least("tahc_subscriptions", &[], 1.0);
    assert!(
        sample(&metrics, "tahc_view_lag_events", &[]).is_some(),
        "{metrics}"
    );
    ws.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_and_their_assets_are_served_and_anything_else_is_404() {
    let server = Server::start().await;
    let get = |path: &str| server.client().get(format!("{}{path}", server.url)).send();
    for (path, kind, marker) in [
        ("/", "text/html", "Agent inbox"),
        ("/widget-demo", "text/html", "Chat with us"),
        ("/assets/inbox.js", "text/javascript", "conversationChanges"),
        ("/assets/tahc.css", "text/css", ".inbox"),
        (
            "/assets/graphql-ws.min.js",
            "text/javascript",
            "graphql-transport-ws",
        ),
    ] {
        let response = get(path).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert!(response.text().await.unwrap().contains(marker), "{path}");
    }
    for path in ["/assets/nope.js", "/assets/..%2Fsrc%2Flib.rs", "/assets/"] {
        let response = get(path).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}
