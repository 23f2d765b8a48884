//! Time-bound behaviour on a clock the test moves, never by sleeping:
//! visitor tokens expire. (Rate-limit windows: rate_limits.rs; snooze
//! wake-ups: the app's process tests.)

mod support;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use support::ws::Ws;
use support::{Server, code};
use tahc_app::ManualClock;

#[tokio::test]
async fn a_visitor_token_works_until_its_expiry_and_is_refused_after_over_http_and_websocket() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
    ));
    let server = Server::start_at(clock.clone()).await;
    let visitor = server.visitor_token().await;
    let who = "{ viewer { visitor { id } } }";

    // One second before the 30 days are over: still valid.
    clock.advance(Duration::days(30) - Duration::seconds(1));
    let valid = server.graphql(Some(&visitor), who, json!({})).await;
    assert!(
        valid["data"]["viewer"]["visitor"]["id"].is_string(),
        "{valid}"
    );
    Ws::open(&server.ws_url(), &visitor).await.close().await;

    clock.advance(Duration::seconds(1));
    let expired = server.graphql(Some(&visitor), who, json!({})).await;
    assert_eq!(code(&expired), "UNAUTHENTICATED", "{expired}");
    let mut ws = Ws::connect(&server.ws_url()).await;
    ws.send(json!({"type": "connection_init", "payload": {"token": visitor}}))
        .await;
    assert_eq!(ws.closed().await.0, 4403);
    // A new session gets a new token, valid from the clock's now.
    let renewed = server.visitor_token().await;
    let valid = server.graphql(Some(&renewed), who, json!({})).await;
    assert!(
        valid["data"]["viewer"]["visitor"]["id"].is_string(),
        "{valid}"
    );
}
