//! WebSocket connections are bounded per client address and per node, and
//! an operation id cannot be used to make the server hold megabytes.

use serde_json::json;
use tempfile::TempDir;

use crate::support::{BOOTSTRAP_KEY, serve_with};
use crate::ws::Ws;
use crate::ws_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_its_connections_and_the_next_is_refused_with_429() {
    let dir = TempDir::new().unwrap();
    let served = serve_with(
        &dir,
        Some(BOOTSTRAP_KEY),
        &["--max-connections-per-address", "3"],
    );
    let url = ws_url(&served.base);
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Ws::open(&url, BOOTSTRAP_KEY).await);
    }
    let refused = Ws::try_connect_offering(&url, Some("graphql-transport-ws")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
        }
        other => panic!("a fourth connection: {:?}", other.map(|_| "accepted")),
    }
    // A connection that ends gives its seat back.
    open.pop().unwrap().close().await;
    let again = crate::eventually(|| async {
        Ws::try_connect_offering(&url, Some("graphql-transport-ws"))
            .await
            .ok()
    })
    .await;
    assert!(again.is_some(), "the seat came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_operation_id_closes_the_connection_with_4400() {
    let dir = TempDir::new().unwrap();
    let served = crate::support::serve(&dir, Some(BOOTSTRAP_KEY));
    let mut ws = Ws::open(&ws_url(&served.base), BOOTSTRAP_KEY).await;
    let id = "x".repeat(64 << 10);
    ws.send(json!({"id": id, "type": "subscribe", "payload": {"query": "subscription { conversationChanges { kind } }"}}))
        .await;
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4400, "{reason}");
    assert!(reason.contains("at most 128 bytes"), "{reason}");
}
