//! The `graphql-transport-ws` protocol, case by case, with a real
//! WebSocket client against a running server: each broken rule closes the
//! connection with its code.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Server;
use support::ws::{Frame, Ws};
use tahc_api::graphql_ws::LiveSettings;
use tahc_api::limits::Limits;

fn quick() -> LiveSettings {
    LiveSettings {
        init_timeout: Duration::from_millis(300),
        keep_alive: Duration::from_millis(200),
        ..LiveSettings::default()
    }
}

#[tokio::test]
async fn init_with_a_team_key_or_a_visitor_token_is_acknowledged() {
    let server = Server::start().await;
    let ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.close().await;
    let visitor = server.visitor_token().await;
    let mut ws = Ws::connect(&server.ws_url()).await;
    ws.send(json!({"type": "connection_init", "payload": {"token": visitor}}))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
}

#[tokio::test]
async fn refused_or_missing_credentials_close_with_4403() {
    let server = Server::start().await;
    for payload in [
        json!({"authorization": "Bearer tahc_wrong"}),
        json!({"token": "tahcv1.forged"}),
        json!({}),
    ] {
        let mut ws = Ws::connect(&server.ws_url()).await;
        ws.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        let (code, reason) = ws.closed().await;
        assert_eq!(code, 4403, "{payload}: {reason}");
    }
}

#[tokio::test]
async fn no_init_in_time_closes_with_4408() {
    let server = Server::start_live(quick()).await;
    let mut ws = Ws::connect(&server.ws_url()).await;
    assert_eq!(ws.closed().await.0, 4408);
}

#[tokio::test]
async fn subscribe_before_the_ack_closes_with_4401() {
    let server = Server::start().await;
    let mut ws = Ws::connect(&server.ws_url()).await;
    ws.subscribe("1", "{ __typename }", json!({})).await;
    assert_eq!(ws.closed().await.0, 4401);
}

#[tokio::test]
async fn a_second_init_closes_with_4429() {
    let server = Server::start().await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.send(json!({"type": "connection_init", "payload": {"token": server.admin_key}}))
        .await;
    assert_eq!(ws.closed().await.0, 4429);
}

#[tokio::test]
async fn a_running_operation_id_used_again_closes_with_4409_and_a_short_reason() {
    let server = Server::start().await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    // The longest id accepted: its close reason is still cut to fit.
    let id = "x".repeat(tahc_api::graphql_ws::protocol::MAX_ID_BYTES);
    ws.subscribe(&id, "subscription { teamActivity { kind } }", json!({}))
        .await;
    ws.subscribe(&id, "subscription { teamActivity { kind } }", json!({}))
        .await;
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4409);
    assert!(reason.len() <= 123, "{}", reason.len());
}

#[tokio::test]
async fn unparsable_unknown_or_binary_messages_close_with_4400() {
    let server = Server::start().await;
    for bad in [
        "{not json",
        r#"{"type":"start","id":"1","payload":{"query":"{a}"}}"#,
        r#"{"type":"subscribe","id":"1"}"#,
        r#"{"type":"subscribe","id":"","payload":{"query":"{a}"}}"#,
    ] {
        let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
        ws.send_text(bad).await;
        assert_eq!(ws.closed().await.0, 4400, "{bad}");
    }
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.send_binary(b"\x00\x01").await;
    assert_eq!(ws.closed().await.0, 4400);
}

#[tokio::test]
async fn a_client_without_the_subprotocol_is_closed_with_4406() {
    let server = Server::start().await;
    let mut ws = Ws::connect_offering(&server.ws_url(), None).await;
    assert_eq!(ws.closed().await.0, 4406);
    // Offering only the legacy `graphql-ws` protocol: none is selected, so
    // the client itself refuses the handshake, as browsers do.
    assert!(
        Ws::try_connect_offering(&server.ws_url(), Some("graphql-ws"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn ping_gets_a_pong_with_its_payload_and_the_server_pings_an_idle_connection() {
    let server = Server::start_live(quick()).await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.send(json!({"type": "ping", "payload": {"n": 7}})).await;
    loop {
        match ws.frame().await {
            Frame::Json(message) if message["type"] == "pong" => {
                assert_eq!(message["payload"]["n"], 7);
                break;
            }
            Frame::Json(message) if message["type"] == "ping" => {}
            other => panic!("{other:?}"),
        }
    }
    // Idle: the server's own keep-alive ping comes (and a pong is fine).
    loop {
        if let Frame::Json(message) = ws.frame().await
            && message["type"] == "ping"
        {
            break;
        }
    }
    ws.send(json!({"type": "pong"})).await;
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.message().await["type"], "pong");
}

#[tokio::test]
async fn a_query_over_the_socket_answers_next_then_complete() {
    let server = Server::start().await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.subscribe("q", "{ viewer { role } }", json!({})).await;
    let next = ws.message().await;
    assert_eq!(next["type"], "next");
    assert_eq!(next["payload"]["data"]["viewer"]["role"], "ADMIN");
    assert_eq!(ws.message().await, json!({"id": "q", "type": "complete"}));
    // The id is free again once completed.
    ws.subscribe("q", "{ __typename }", json!({})).await;
    assert_eq!(ws.message().await["type"], "next");
}

#[tokio::test]
async fn an_invalid_operation_answers_error_and_the_connection_stays() {
    let server = Server::start().await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.subscribe("bad", "subscription { noSuchField }", json!({}))
        .await;
    let error = ws.message().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "bad");
    assert!(error["payload"][0]["message"].is_string(), "{error}");
    ws.subscribe("ok", "{ __typename }", json!({})).await;
    assert_eq!(ws.message().await["type"], "next");
}

#[tokio::test]
async fn a_subscription_with_two_root_fields_answers_error() {
    let server = Server::start().await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.subscribe(
        "two",
        "subscription { a: conversationChanges { position } b: contactChanges { position } }",
        json!({}),
    )
    .await;
    let error = ws.message().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "two");
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    ws.silent_for(std::time::Duration::from_millis(200)).await;
}

#[tokio::test]
async fn complete_from_the_client_stops_the_operation() {
    let server = Server::start().await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    let visitor = server.visitor_token().await;
    ws.subscribe(
        "inbox",
        "subscription { conversationChanges { kind } }",
        json!({}),
    )
    .await;
    server.conversation_of(&visitor, "first").await;
    assert_eq!(
        ws.nexts("inbox", 1).await[0]["data"]["conversationChanges"]["kind"],
        "CREATED"
    );
    ws.nexts("inbox", 1).await; // its first message
    ws.send(json!({"id": "inbox", "type": "complete"})).await;
    server.conversation_of(&visitor, "second").await;
    ws.silent_for(Duration::from_millis(300)).await;
    // The id can be used again.
    ws.subscribe("inbox", "{ __typename }", json!({})).await;
    assert_eq!(ws.message().await["type"], "next");
}

#[tokio::test]
async fn too_many_operations_on_one_connection_are_refused_with_an_error() {
    let server = Server::start_limited(Limits {
        operations_per_connection: 2,
        ..Limits::DEFAULT
    })
    .await;
    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    for id in ["a", "b", "c"] {
        ws.subscribe(id, "subscription { teamActivity { kind } }", json!({}))
            .await;
    }
    let refused = ws.message().await;
    assert_eq!(refused["id"], "c");
    assert_eq!(refused["type"], "error");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
}

#[tokio::test]
async fn a_peer_silent_for_the_peer_timeout_is_closed_then_not_at_the_next_ping() {
    // Pings every 30 s; silence is judged from the last message heard.
    let server = Server::start_live(LiveSettings {
        keep_alive: Duration::from_secs(30),
        peer_timeout: Duration::from_millis(500),
        ..LiveSettings::default()
    })
    .await;
    let mut paused = Ws::open(&server.ws_url(), &server.admin_key).await;
    let started = std::time::Instant::now();
    let (code, _) = paused.closed().await;
    assert_eq!(code, 4504);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_peer_that_answers_no_ping_is_closed_with_4504_while_a_live_one_stays() {
    let server = Server::start_live(LiveSettings {
        keep_alive: Duration::from_millis(100),
        peer_timeout: Duration::from_millis(500),
        ..LiveSettings::default()
    })
    .await;
    let mut live = Ws::open(&server.ws_url(), &server.admin_key).await;
    let mut gone = Ws::open(&server.ws_url(), &server.admin_key).await;
    // Reading answers the server's WebSocket pings; `gone` reads nothing.
    live.silent_for(Duration::from_millis(1500)).await;
    let (code, reason) = gone.closed().await;
    assert_eq!(code, 4504, "{reason}");
    assert!(reason.contains("No answer to pings"), "{reason}");
    live.send(json!({"type": "ping"})).await;
    assert_eq!(live.message().await["type"], "pong");
}
