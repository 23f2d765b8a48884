//! Rate limits over real HTTP, on a clock the test advances.

mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use reqwest::StatusCode;
use serde_json::json;
use support::{Server, code};
use tahc_api::rate_limit::{Rate, RateLimitSettings, RateLimits};

fn rate(per_minute: u32, burst: u32) -> Option<Rate> {
    Some(Rate {
        per_minute: NonZeroU32::new(per_minute).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_its_rate_is_told_when_to_retry_and_others_are_unaffected() {
    let clock = FakeRelativeClock::default();
    let settings = RateLimitSettings {
        visitor: rate(30, 3),
        team: rate(60, 5),
        ..RateLimitSettings::OFF
    };
    let server = Server::start_with(Arc::new(RateLimits::manual(settings, &clock))).await;
    let visitor = server.visitor_token().await;
    let query = "{viewer{visitor{id}}}";
    for _ in 0..3 {
        let ok = server.graphql(Some(&visitor), query, json!({})).await;
        assert!(ok["errors"].is_null(), "{ok}");
    }
    for accept in ["application/json", "application/graphql-response+json"] {
        let response = server
            .client()
            .post(format!("{}/graphql", server.url))
            .header("content-type", "application/json")
            .header("accept", accept)
            .bearer_auth(&visitor)
            .body(json!({ "query": query }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{accept}");
        assert_eq!(response.headers()["retry-after"], "2");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(code(&body), "RATE_LIMITED");
        assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 2.0);
        assert!(body.get("data").is_none(), "{body}");
    }
    // A refused mutation runs nothing.
    let refused = server
        .graphql_as(
            Some(&visitor),
            support::START,
            json!({"b": "hello?"}),
            "application/json",
        )
        .await;
    assert_eq!(refused.0, StatusCode::TOO_MANY_REQUESTS);
    // Another visitor and the team have their own allowance.
    let other = server.visitor_token().await;
    assert!(server.graphql(Some(&other), query, json!({})).await["errors"].is_null());
    assert!(
        server
            .graphql(Some(&server.admin_key), "{viewer{role}}", json!({}))
            .await["errors"]
            .is_null()
    );
    // After the wait, one more request (the steady rate), not a new burst.
    clock.advance(Duration::from_secs(2));
    assert!(server.graphql(Some(&visitor), query, json!({})).await["errors"].is_null());
    let (status, _) = server
        .graphql_as(Some(&visitor), query, json!({}), "application/json")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // A connection_init over the rate is told to try again later (1013,
    // which graphql-ws clients retry), not that its credentials are bad.
    let mut ws = support::ws::Ws::connect(&server.ws_url()).await;
    ws.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {visitor}")}}))
        .await;
    let (close, reason) = ws.closed().await;
    assert_eq!(close, 1013, "{reason}");
    assert!(reason.starts_with("Rate limited"), "{reason}");
    let mine = server
        .graphql(
            Some(&server.admin_key),
            "{conversations{totalCount}}",
            json!({}),
        )
        .await;
    assert_eq!(mine["data"]["conversations"]["totalCount"], 0);
}
