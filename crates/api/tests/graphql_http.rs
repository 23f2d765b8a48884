//! GraphQL over HTTP, case by case, through the real routes over real HTTP.

use async_graphql::{EmptySubscription, Object, Schema};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};

struct Query;

#[Object]
impl Query {
    async fn hello(&self, name: Option<String>) -> String {
        format!("hello {}", name.unwrap_or_else(|| "world".into()))
    }
}

struct Mutation;

#[Object]
impl Mutation {
    async fn bump(&self) -> i32 {
        1
    }
}

fn router() -> axum::Router {
    tahc_api::graphql_routes(Schema::new(Query, Mutation, EmptySubscription))
}

struct Answer {
    status: StatusCode,
    content_type: String,
    allow: Option<String>,
    body: Value,
    text: String,
}

/// Sends a request over real HTTP to the routes served on a free port.
async fn send(request: Request<Body>) -> Answer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serving = tokio::spawn(tahc_api::connections::serve(
        listener,
        router(),
        tahc_api::limits::Limits::DEFAULT,
        std::future::pending(),
    ));
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut outgoing = reqwest::Client::new()
        .request(method, format!("http://{address}{}", parts.uri))
        .body(body);
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name.as_str(), value.as_bytes());
    }
    let response = outgoing.send().await.unwrap();
    serving.abort();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let header_text = |name: header::HeaderName| {
        response
            .headers()
            .get(name.as_str())
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
    let allow = header_text(header::ALLOW);
    let bytes = response.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Answer {
        status,
        content_type,
        allow,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn post(body: &str, content_type: &str, accept: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, content_type);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

fn get(query_string: &str, accept: Option<&str>) -> Request<Body> {
    let mut request = Request::get(format!("/graphql?{query_string}"));
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    request.body(Body::empty()).unwrap()
}

const GQL: &str = "application/graphql-response+json";

#[tokio::test]
async fn a_post_runs_the_query_with_its_variables() {
    let answer = send(post(
        r#"{"query":"query($n:String){hello(name:$n)}","variables":{"n":"ada"}}"#,
        "application/json",
        None,
    ))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.content_type.starts_with("application/json"));
    assert_eq!(answer.body, json!({"data": {"hello": "hello ada"}}));
    let answer = send(post(
        r#"{"query":"{hello}"}"#,
        "application/json; charset=utf-8",
        Some(GQL),
    ))
    .await;
    assert!(answer.content_type.starts_with(GQL));
    assert_eq!(answer.body["data"]["hello"], "hello world");
}

#[tokio::test]
async fn unparsable_and_invalid_documents_are_400_without_data_for_graphql_response_json() {
    for document in ["{ hello", "{ nope }"] {
        let body = json!({"query": document}).to_string();
        let answer = send(post(&body, "application/json", Some(GQL))).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{document}");
        assert!(
            answer.body.get("data").is_none(),
            "no data key: {}",
            answer.text
        );
        assert_eq!(
            answer.body["errors"][0]["extensions"]["code"],
            "BAD_USER_INPUT"
        );
        let legacy = send(post(&body, "application/json", Some("application/json"))).await;
        assert_eq!(legacy.status, StatusCode::OK, "{document}");
        assert!(legacy.body["errors"].is_array());
    }
}

#[tokio::test]
async fn malformed_bodies_and_wrongly_typed_fields_are_400_naming_the_field() {
    for (body, mentions) in [
        ("{not json", "not valid JSON"),
        ("[1,2]", "JSON object"),
        (r#"{"variables":{}}"#, "`query`"),
        (r#"{"query":42}"#, "`query`"),
        (r#"{"query":"{hello}","variables":[1]}"#, "`variables`"),
        (
            r#"{"query":"{hello}","operationName":7}"#,
            "`operationName`",
        ),
        (r#"{"query":"{hello}","extensions":"x"}"#, "`extensions`"),
    ] {
        for accept in [Some(GQL), None] {
            let answer = send(post(body, "application/json", accept)).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
            let message = answer.body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default();
            assert!(message.contains(mentions), "{body}: {message}");
        }
    }
}

#[tokio::test]
async fn other_content_types_are_415_and_unacceptable_accepts_406() {
    let answer = send(post(r#"{"query":"{hello}"}"#, "text/plain", None)).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let answer = send(post(
        r#"{"query":"{hello}"}"#,
        "application/json",
        Some("image/png"),
    ))
    .await;
    assert_eq!(answer.status, StatusCode::NOT_ACCEPTABLE);
    let answer = send(post(
        r#"{"query":"{hello}"}"#,
        "application/json",
        Some("application/json;q=0, */*"),
    ))
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations_with_405_and_allow() {
    let answer = send(get("query=%7Bhello%7D", None)).await;
    assert_eq!(
        (answer.status, answer.body["data"]["hello"].as_str()),
        (StatusCode::OK, Some("hello world"))
    );
    let answer = send(get(
        "query=query(%24n%3AString)%7Bhello(name%3A%24n)%7D&variables=%7B%22n%22%3A%22bo%22%7D",
        Some(GQL),
    ))
    .await;
    assert_eq!(answer.body["data"]["hello"], "hello bo");
    let answer = send(get("query=mutation%7Bbump%7D", Some(GQL))).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.allow.as_deref(), Some("POST"));
    let answer = send(get("query=%7Bhello%7D&variables=%7Bnope", None)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = send(get("query=%7Bhello", Some(GQL))).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = send(get(
        "query=query%20a%7Bhello%7D%20query%20b%7Bhello%7D",
        None,
    ))
    .await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "two operations and no name"
    );
    let answer = send(get(
        "query=query%20a%7Bhello%7D%20mutation%20b%7Bbump%7D&operationName=b",
        None,
    ))
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_browser_without_a_query_gets_graphiql() {
    let answer = send(get("", Some("text/html,application/xhtml+xml"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.text.to_lowercase().contains("graphiql"));
}
