//! Every input limit, set low, over real HTTP and WebSocket: a clear error
//! when exceeded, nothing written, and the server goes on.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::ws::{Frame, Ws};
use support::{SEND, START, Server, code};
use tahc_api::limits::{Limits, TextLimits};

async fn head(server: &Server) -> u64 {
    server.node.log.head().await.unwrap().0
}

/// The only user error of `field`'s payload: its code and field path.
fn user_error(body: &Value, mutation: &str) -> (String, Vec<String>) {
    let errors = body["data"][mutation]["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(errors.len(), 1, "{body}");
    (
        errors[0]["code"].as_str().unwrap().to_owned(),
        serde_json::from_value(errors[0]["field"].clone()).unwrap(),
    )
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_payload_too_large_and_runs_nothing() {
    let server = Server::start_limited(Limits {
        body_bytes: 2_048,
        ..Limits::DEFAULT
    })
    .await;
    let visitor = server.visitor_token().await;
    let before = head(&server).await;
    for accept in ["application/json", "application/graphql-response+json"] {
        let (status, body) = server
            .graphql_as(
                Some(&visitor),
                START,
                json!({"b": "x".repeat(3_000)}),
                accept,
            )
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(code(&body), "PAYLOAD_TOO_LARGE");
    }
    assert_eq!(head(&server).await, before);
    // Under the limit, the same request runs.
    let started = server
        .graphql(Some(&visitor), START, json!({"b": "hello"}))
        .await;
    assert!(started["data"]["startConversation"]["conversation"]["id"].is_string());
}

#[tokio::test]
async fn a_body_sent_too_slowly_is_408_request_timeout_and_runs_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start_limited(Limits {
        request_read: std::time::Duration::from_millis(500),
        ..Limits::DEFAULT
    })
    .await;
    let visitor = server.visitor_token().await;
    let before = head(&server).await;
    let body = json!({"query": START, "variables": {"b": "hello"}}).to_string();
    let address = server.url.trim_start_matches("http://");
    let mut connection = tokio::net::TcpStream::connect(address).await.unwrap();
    let request_head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {visitor}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    connection.write_all(request_head.as_bytes()).await.unwrap();
    // All of the body but its last byte, a byte at a time, well within the
    // deadline each: only the whole body's deadline can stop it.
    for byte in &body.as_bytes()[..body.len() - 1] {
        if connection.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        connection.read_to_end(&mut answer),
    )
    .await
    .expect("answered and closed")
    .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert_eq!(head(&server).await, before, "nothing ran");
    // A request sent at once runs.
    let started = server
        .graphql(Some(&visitor), START, json!({"b": "hello"}))
        .await;
    assert!(started["data"]["startConversation"]["conversation"]["id"].is_string());
}

#[tokio::test]
async fn a_query_over_the_limit_is_refused_over_http_and_websocket_before_it_runs() {
    let server = Server::start_limited(Limits {
        query_bytes: 100,
        ..Limits::DEFAULT
    })
    .await;
    let long = format!("{{ __typename }} # {}", "pad ".repeat(30));
    let (status, body) = server
        .graphql_as(
            Some(&server.admin_key),
            &long,
            json!({}),
            "application/graphql-response+json",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 100"),
        "{body}"
    );
    assert!(body.get("data").is_none());

    let mut ws = Ws::open(&server.ws_url(), &server.admin_key).await;
    ws.subscribe("long", &long, json!({})).await;
    let refused = ws.message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    // The connection goes on.
    ws.subscribe("short", "{ __typename }", json!({})).await;
    assert_eq!(ws.message().await["type"], "next");
}

#[tokio::test]
async fn depth_and_complexity_follow_their_settings() {
    let server = Server::start_limited(Limits {
        depth: 2,
        complexity: 20,
        ..Limits::DEFAULT
    })
    .await;
    let admin = Some(server.admin_key.as_str());
    let shallow = server
        .graphql(admin, "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(shallow["data"]["viewer"]["role"], "ADMIN", "{shallow}");
    let deep = server
        .graphql(admin, "{ viewer { workspace { id } } }", json!({}))
        .await;
    assert_eq!(code(&deep), "BAD_USER_INPUT", "{deep}");
    // Each field counts 1: eleven viewers of two fields are 22.
    let wide: String = (0..11)
        .map(|i| format!("v{i}: viewer {{ role }} "))
        .collect();
    let complex = server
        .graphql(admin, &format!("{{ {wide} }}"), json!({}))
        .await;
    assert_eq!(code(&complex), "BAD_USER_INPUT", "{complex}");
}

#[tokio::test]
async fn texts_over_their_limits_are_user_errors_on_the_field_and_change_nothing() {
    let server = Server::start_limited(Limits {
        text: TextLimits {
            message_chars: 20,
            name_chars: 5,
            email_chars: 24,
            note_chars: 10,
            field_value_chars: 4,
        },
        ..Limits::DEFAULT
    })
    .await;
    let admin = Some(server.admin_key.as_str());
    let visitor = server.visitor_token().await;
    let conversation = server.conversation_of(&visitor, &"a".repeat(20)).await;
    let identified = server
        .graphql(
            Some(&visitor),
            "mutation($e:String!,$n:String){identifyVisitor(input:{email:$e,name:$n}){contact{id} userErrors{code field}}}",
            json!({"e": "ada@acme.example", "n": "Ada"}),
        )
        .await;
    assert_eq!(
        identified["data"]["identifyVisitor"]["userErrors"],
        json!([]),
        "{identified}"
    );
    let contact = server.contact_by_email("ada@acme.example").await;
    let noted = server
        .graphql(
            admin,
            "mutation($k:ID!){addContactNote(input:{contactId:$k,body:\"short\"}){note{id} userErrors{code}}}",
            json!({"k": contact}),
        )
        .await;
    let note = noted["data"]["addContactNote"]["note"]["id"].clone();
    let defined = server
        .graphql(
            admin,
            "mutation{defineCustomField(input:{key:\"plan\",label:\"Plan\",type:TEXT}){userErrors{code}}}",
            json!({}),
        )
        .await;
    assert_eq!(
        defined["data"]["defineCustomField"]["userErrors"],
        json!([])
    );
    server.settle().await;

    let too_long: [(&str, Option<&str>, &str, Value, &str); 9] = [
        (
            "startConversation",
            Some(&visitor),
            START,
            json!({"b": "b".repeat(21)}),
            "body",
        ),
        (
            "sendMessage",
            Some(&visitor),
            SEND,
            json!({"c": conversation, "b": "b".repeat(21)}),
            "body",
        ),
        (
            "identifyVisitor",
            Some(&visitor),
            "mutation($e:String!,$n:String){identifyVisitor(input:{email:$e,name:$n}){userErrors{code field}}}",
            json!({"e": "bob@acme.example", "n": "Bobbie"}),
            "name",
        ),
        (
            "identifyVisitor",
            Some(&visitor),
            "mutation($e:String!){identifyVisitor(input:{email:$e}){userErrors{code field}}}",
            json!({"e": "robert.longname@acme.example"}),
            "email",
        ),
        (
            "updateContact",
            admin,
            "mutation($k:ID!,$n:String){updateContact(input:{contactId:$k,name:$n}){userErrors{code field}}}",
            json!({"k": contact, "n": "Adaline"}),
            "name",
        ),
        (
            "updateContact",
            admin,
            "mutation($k:ID!,$e:String){updateContact(input:{contactId:$k,email:$e}){userErrors{code field}}}",
            json!({"k": contact, "e": "ada.lovelace@acme.example"}),
            "email",
        ),
        (
            "addContactNote",
            admin,
            "mutation($k:ID!,$b:String!){addContactNote(input:{contactId:$k,body:$b}){userErrors{code field}}}",
            json!({"k": contact, "b": "n".repeat(11)}),
            "body",
        ),
        (
            "editContactNote",
            admin,
            "mutation($n:ID!,$b:String!){editContactNote(input:{noteId:$n,body:$b}){userErrors{code field}}}",
            json!({"n": note, "b": "n".repeat(11)}),
            "body",
        ),
        (
            "setContactCustomField",
            admin,
            "mutation($k:ID!,$v:JSON){setContactCustomField(input:{contactId:$k,key:\"plan\",value:$v}){userErrors{code field}}}",
            json!({"k": contact, "v": "gold+"}),
            "value",
        ),
    ];
    let before = head(&server).await;
    for (mutation, credential, query, variables, field) in too_long {
        let body = server.graphql(credential, query, variables).await;
        assert_eq!(
            user_error(&body, mutation),
            (
                "INVALID".to_owned(),
                vec!["input".to_owned(), field.to_owned()]
            ),
            "{mutation} {field}"
        );
    }
    assert_eq!(
        head(&server).await,
        before,
        "a refused input wrote something"
    );

    // At the limit, it passes.
    let sent = server
        .graphql(
            Some(&visitor),
            SEND,
            json!({"c": conversation, "b": "b".repeat(20)}),
        )
        .await;
    assert_eq!(
        sent["data"]["sendMessage"]["userErrors"],
        json!([]),
        "{sent}"
    );
}

#[tokio::test]
async fn a_websocket_message_over_the_frame_limit_closes_with_1009_and_others_go_on() {
    let server = Server::start_limited(Limits {
        frame_bytes: 1_024,
        ..Limits::DEFAULT
    })
    .await;
    let mut big = Ws::open(&server.ws_url(), &server.admin_key).await;
    let mut other = Ws::open(&server.ws_url(), &server.admin_key).await;
    big.send_text(&json!({"type": "ping", "payload": {"pad": "x".repeat(2_000)}}).to_string())
        .await;
    let (code, reason) = big.closed().await;
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("1024"), "{reason}");
    other.subscribe("q", "{ __typename }", json!({})).await;
    assert_eq!(other.message().await["type"], "next");
}

#[tokio::test]
async fn a_visitor_past_its_connection_limit_is_closed_with_1008_until_one_ends() {
    let server = Server::start_limited(Limits {
        connections_per_visitor: 2,
        ..Limits::DEFAULT
    })
    .await;
    let visitor = server.visitor_token().await;
    let first = Ws::open(&server.ws_url(), &visitor).await;
    let _second = Ws::open(&server.ws_url(), &visitor).await;
    let mut third = Ws::connect(&server.ws_url()).await;
    third
        .send(json!({"type": "connection_init", "payload": {"token": visitor}}))
        .await;
    let (code, reason) = third.closed().await;
    assert_eq!(code, 1008, "{reason}");
    // Another visitor, and the team, are not affected.
    let _other = Ws::open(&server.ws_url(), &server.visitor_token().await).await;
    let _team = Ws::open(&server.ws_url(), &server.admin_key).await;
    // Once a connection ends, its seat is free again.
    first.close().await;
    let mut again = None;
    for _ in 0..50 {
        let mut ws = Ws::connect(&server.ws_url()).await;
        ws.send(json!({"type": "connection_init", "payload": {"token": visitor}}))
            .await;
        if matches!(ws.frame().await, Frame::Json(_)) {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the seat never came back");
}
