//! GraphQL over HTTP, as the GraphQL-over-HTTP specification says.
//!
//! * POST with `Content-Type: application/json`; anything else is 415.
//! * GET carries `query`, `operationName`, `variables` and `extensions` in
//!   the query string and may only run queries: a mutation over GET is 405
//!   with `Allow: POST`. A browser's GET without a query gets GraphiQL.
//! * `Accept` picks the response type. With
//!   `application/graphql-response+json`, requests that cannot run (malformed,
//!   unparsable, invalid) are 4xx and carry no `data` key; with
//!   `application/json` (also what a missing `Accept` means) they are 200.
//!   No acceptable type: 406.
//! * Malformed bodies and parameters of the wrong type get a clear error
//!   naming the parameter, with `extensions.code` BAD_USER_INPUT.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use async_graphql::parser::types::OperationType;
use async_graphql::{Executor, ObjectType, Schema, SubscriptionType, Variables};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::connections::BodyTooSlow;

/// What serves GraphQL requests: a schema, perhaps with per-request data
/// drawn from the headers (the caller's credentials) and the client's
/// address.
pub trait Endpoint: Clone + Send + Sync + 'static {
    /// Runs one request from a client at `address` (when known).
    fn execute(
        &self,
        headers: &HeaderMap,
        address: Option<IpAddr>,
        request: async_graphql::Request,
    ) -> impl Future<Output = async_graphql::Response> + Send;
}

/// The client's address, as the server's connections record it
/// ([`crate::connections::serve`]); absent when served otherwise.
pub type Peer = Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>;

/// The address of a [`Peer`].
#[must_use]
pub fn client_address(peer: &Peer) -> Option<IpAddr> {
    peer.as_ref()
        .map(|axum::Extension(axum::extract::ConnectInfo(peer))| peer.ip())
}

impl<Q, M, S> Endpoint for Schema<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    fn execute(
        &self,
        _headers: &HeaderMap,
        _address: Option<IpAddr>,
        request: async_graphql::Request,
    ) -> impl Future<Output = async_graphql::Response> + Send {
        Executor::execute(self, request)
    }
}

/// The response media types of the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `application/graphql-response+json`: status codes tell request
    /// errors apart.
    GraphQlResponse,
    /// `application/json`: the legacy type, always 200 once parsed.
    Json,
}

impl ResponseType {
    fn content_type(self) -> &'static str {
        match self {
            ResponseType::GraphQlResponse => "application/graphql-response+json; charset=utf-8",
            ResponseType::Json => "application/json; charset=utf-8",
        }
    }
}

/// Why a request is not a GraphQL-over-HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is not JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON but not an object.
    #[error("the request body must be a JSON object")]
    NotAnObject,
    /// `query` is missing or not a string.
    #[error("`query` is required and must be a string")]
    Query,
    /// `operationName` is neither a string nor null.
    #[error("`operationName` must be a string or null")]
    OperationName,
    /// `variables` is neither an object nor null.
    #[error("`variables` must be a JSON object or null")]
    Variables,
    /// `extensions` is neither an object nor null.
    #[error("`extensions` must be a JSON object or null")]
    Extensions,
    /// The document does not parse (GET must know the operation's type).
    #[error("the query does not parse: {0}")]
    Syntax(String),
    /// The document nests too deep to be parsed safely.
    #[error(transparent)]
    TooDeep(#[from] crate::nesting::TooDeep),
    /// The operation to run cannot be chosen.
    #[error("{0}")]
    Operation(String),
}

/// None of the media types a client accepts is offered (406).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAcceptable;

impl IntoResponse for NotAcceptable {
    fn into_response(self) -> Response {
        plain_error(
            StatusCode::NOT_ACCEPTABLE,
            ResponseType::Json,
            "none of the accepted media types is offered: use application/graphql-response+json or application/json",
        )
    }
}

/// The response type a request's `Accept` picks.
pub fn negotiate(headers: &HeaderMap) -> Result<ResponseType, NotAcceptable> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(ResponseType::Json);
    };
    if accept.trim().is_empty() {
        return Ok(ResponseType::Json);
    }
    let mut json = false;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        if refused {
            continue;
        }
        match media.as_str() {
            "application/graphql-response+json" => return Ok(ResponseType::GraphQlResponse),
            "application/json" | "application/*" | "*/*" => json = true,
            _ => {}
        }
    }
    if json {
        Ok(ResponseType::Json)
    } else {
        Err(NotAcceptable)
    }
}

/// The fields of a GraphQL-over-HTTP request, checked.
fn request_from(mut fields: Map<String, Value>) -> Result<async_graphql::Request, RequestError> {
    let Some(Value::String(query)) = fields.remove("query") else {
        return Err(RequestError::Query);
    };
    let mut request = async_graphql::Request::new(query);
    match fields.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err(RequestError::OperationName),
    }
    match fields.remove("variables") {
        None | Some(Value::Null) => {}
        Some(Value::Object(variables)) => {
            request = request.variables(Variables::from_json(Value::Object(variables)));
        }
        Some(_) => return Err(RequestError::Variables),
    }
    match fields.remove("extensions") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err(RequestError::Extensions),
    }
    Ok(request)
}

/// Parses a POST body.
pub fn parse_body(body: &[u8]) -> Result<async_graphql::Request, RequestError> {
    match serde_json::from_slice::<Value>(body) {
        Err(error) => Err(RequestError::MalformedJson(error.to_string())),
        Ok(Value::Object(fields)) => request_from(fields),
        Ok(_) => Err(RequestError::NotAnObject),
    }
}

/// Parses GET parameters: `variables` and `extensions` are JSON text.
pub fn parse_params(
    params: &std::collections::HashMap<String, String>,
) -> Result<async_graphql::Request, RequestError> {
    let mut fields = Map::new();
    if let Some(query) = params.get("query") {
        fields.insert("query".into(), Value::String(query.clone()));
    }
    if let Some(name) = params.get("operationName") {
        fields.insert("operationName".into(), Value::String(name.clone()));
    }
    for (name, error) in [
        ("variables", RequestError::Variables),
        ("extensions", RequestError::Extensions),
    ] {
        if let Some(text) = params.get(name).filter(|t| !t.is_empty()) {
            let value = serde_json::from_str(text).map_err(|_| error)?;
            fields.insert(name.into(), value);
        }
    }
    request_from(fields)
}

/// The type of the operation a request would run.
pub fn operation_type(request: &async_graphql::Request) -> Result<OperationType, RequestError> {
    crate::nesting::check_document(&request.query)?;
    let document = async_graphql::parser::parse_query(&request.query)
        .map_err(|e| RequestError::Syntax(e.to_string()))?;
    let operations: Vec<_> = document.operations.iter().collect();
    let chosen = match &request.operation_name {
        Some(name) => operations
            .iter()
            .find(|(op_name, _)| op_name.map(|n| n.as_str()) == Some(name.as_str())),
        None if operations.len() == 1 => operations.first(),
        None => {
            return Err(RequestError::Operation(
                "the document has several operations: name one with `operationName`".into(),
            ));
        }
    };
    chosen
        .map(|(_, operation)| operation.node.ty)
        .ok_or_else(|| RequestError::Operation("no operation with that name".into()))
}

fn plain_error(status: StatusCode, response_type: ResponseType, message: &str) -> Response {
    coded_error(status, response_type, "BAD_USER_INPUT", message)
}

fn coded_error(
    status: StatusCode,
    response_type: ResponseType,
    code: &str,
    message: &str,
) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    with_type(status, response_type, body.to_string())
}

/// A body that could not be read: over the size limit (413,
/// PAYLOAD_TOO_LARGE, whatever the media type: it was not read, so it did
/// not run), not sent in time (408, REQUEST_TIMEOUT), or cut off.
fn body_refused(response_type: ResponseType, refusal: &BytesRejection) -> Response {
    let status = refusal.status();
    if let Some(slow) = cause::<BodyTooSlow>(refusal) {
        coded_error(
            StatusCode::REQUEST_TIMEOUT,
            response_type,
            "REQUEST_TIMEOUT",
            &slow.to_string(),
        )
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        coded_error(
            status,
            response_type,
            "PAYLOAD_TOO_LARGE",
            "the request body is larger than this server accepts",
        )
    } else {
        plain_error(status, response_type, &refusal.body_text())
    }
}

/// The first error of type `E` in `error`'s chain of sources.
fn cause<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

fn with_type(status: StatusCode, response_type: ResponseType, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response_type.content_type()),
    );
    response
}

/// A request that could not run: 400 either way (it is not a well-formed
/// GraphQL-over-HTTP request).
fn request_error(response_type: ResponseType, error: &RequestError) -> Response {
    plain_error(StatusCode::BAD_REQUEST, response_type, &error.to_string())
}

/// Runs a request and answers as `response_type` demands.
async fn run<E: Endpoint>(
    endpoint: &E,
    headers: &HeaderMap,
    address: Option<IpAddr>,
    response_type: ResponseType,
    request: async_graphql::Request,
) -> Response {
    let response = endpoint.execute(headers, address, request).await;
    // Errors before execution (parse, validation) have no data and no path.
    let not_run = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    let mut status = StatusCode::BAD_REQUEST;
    let mut retry_after = None;
    if not_run && let Some(object) = body.as_object_mut() {
        object.remove("data");
        for error in object
            .get_mut("errors")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            match error["extensions"]["code"].as_str() {
                Some("UNAUTHENTICATED") => status = StatusCode::UNAUTHORIZED,
                Some("RATE_LIMITED") => {
                    status = StatusCode::TOO_MANY_REQUESTS;
                    retry_after = error["extensions"]["retryAfter"].as_f64();
                }
                Some(_) => {}
                // Parse and validation errors.
                None => error["extensions"]["code"] = json!("BAD_USER_INPUT"),
            }
        }
    }
    // A rate-limited request did not run whatever the media type: 429 with
    // Retry-After, so HTTP clients and proxies back off too.
    let status = match (response_type, not_run) {
        _ if retry_after.is_some() => status,
        (ResponseType::GraphQlResponse, true) => status,
        _ => StatusCode::OK,
    };
    let mut response = with_type(status, response_type, body.to_string());
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(seconds.ceil() as u64),
        );
    }
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// `POST /graphql`.
pub async fn post<E: Endpoint>(
    State(endpoint): State<E>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let response_type = match negotiate(&headers) {
        Ok(response_type) => response_type,
        Err(refusal) => return refusal.into_response(),
    };
    let body = match body {
        Ok(body) => body,
        Err(refusal) => return body_refused(response_type, &refusal),
    };
    if !is_json(&headers) {
        return plain_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            response_type,
            "POST bodies must be application/json",
        );
    }
    match parse_body(&body) {
        Ok(request) => {
            let address = client_address(&peer);
            run(&endpoint, &headers, address, response_type, request).await
        }
        Err(error) => request_error(response_type, &error),
    }
}

/// `GET /graphql`: queries only; GraphiQL for a browser without a query.
pub async fn get<E: Endpoint>(
    State(endpoint): State<E>,
    peer: Peer,
    headers: HeaderMap,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && !params.contains_key("query") {
        // Not to be framed by another site. (Its scripts still come from a
        // CDN until GraphiQL is vendored: issue 34.)
        return (
            [
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            Html(
                async_graphql::http::GraphiQLSource::build()
                    .endpoint("/graphql")
                    .subscription_endpoint("/graphql")
                    .finish(),
            ),
        )
            .into_response();
    }
    let response_type = match negotiate(&headers) {
        Ok(response_type) => response_type,
        Err(refusal) => return refusal.into_response(),
    };
    let request = match parse_params(&params) {
        Ok(request) => request,
        Err(error) => return request_error(response_type, &error),
    };
    match operation_type(&request) {
        Ok(OperationType::Query) => {
            let address = client_address(&peer);
            run(&endpoint, &headers, address, response_type, request).await
        }
        Ok(_) => {
            let mut response = plain_error(
                StatusCode::METHOD_NOT_ALLOWED,
                response_type,
                "only queries may use GET; send mutations and subscriptions with POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        Err(error) => request_error(response_type, &error),
    }
}
