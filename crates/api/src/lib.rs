//! The public face of tahc: GraphQL over HTTP (and, later, WebSocket),
//! the widget's sessions, health.
//!
//! [`graphql_http`] is the transport, as the GraphQL-over-HTTP
//! specification says; [`schema`] is the contract served through it.

pub mod address_blocks;
pub mod connections;
pub mod export;
pub mod graphql_http;
pub mod graphql_ws;
pub mod limits;
pub mod metrics;
pub mod nesting;
pub mod rate_limit;
pub mod schema;
pub mod subject_export;
pub mod visitor_token;
mod web;
mod widget;

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::{ErrorExtensions, ServerError};
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tahc_app::{Node, Principal};
use tower_http::catch_panic::CatchPanicLayer;

use crate::address_blocks::AddressBlocks;
use crate::graphql_http::{Endpoint, client_address};
use crate::graphql_ws::{Live, LiveSettings, WebSockets};
use crate::limits::Limits;
use crate::rate_limit::{Admission, RateLimitSettings, RateLimited, RateLimits};
use crate::schema::{Caller, TahcSchema};

/// The `/graphql` routes for an endpoint.
pub fn graphql_routes<E: Endpoint>(endpoint: E) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql_http::get::<E>).post(graphql_http::post::<E>),
        )
        .with_state(endpoint)
}

/// Who may pass: authenticates a request's credentials and holds each
/// caller to its rate limit, for every route that needs it.
#[derive(Clone)]
pub struct Gate {
    node: Arc<Node>,
    admission: Arc<dyn Admission>,
    addresses: Arc<AddressBlocks>,
}

/// Why a request was turned away at the gate.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Bad credentials.
    #[error(transparent)]
    Unauthenticated(#[from] schema::AuthError),
    /// Too many requests.
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
}

impl Gate {
    /// The caller of a request from `address` (none: anonymous), if it
    /// may pass now.
    pub fn pass(
        &self,
        headers: &HeaderMap,
        address: Option<IpAddr>,
    ) -> Result<Option<Principal>, Refusal> {
        let principal = schema::authenticate(&self.node, headers)?;
        if let Some(principal) = &principal {
            self.seen(principal, address);
            self.admit(principal)?;
        }
        Ok(principal)
    }

    /// Notes where a visitor calls from, so that blocking it blocks its
    /// address too.
    pub fn seen(&self, principal: &Principal, address: Option<IpAddr>) {
        if let (Some(visitor), Some(address)) = (principal.visitor_id(), address) {
            self.addresses.seen(visitor, address);
        }
    }

    /// The caller a credential (team key or visitor token) stands for, if
    /// it may pass now.
    pub fn admit_credential(&self, credential: &str) -> Result<Principal, Refusal> {
        let principal = schema::principal_of(&self.node, credential)?;
        self.admit(&principal)?;
        Ok(principal)
    }

    /// The caller a credential stands for now, without charging it.
    pub fn authenticate_credential(&self, credential: &str) -> Result<Principal, Refusal> {
        Ok(schema::principal_of(&self.node, credential)?)
    }

    /// Where live connections watch for their principal's revocation.
    #[must_use]
    pub fn revocations(&self) -> &tahc_app::Revocations {
        self.node.applied.revocations()
    }

    /// Holds a known caller to its rate limit.
    pub fn admit(&self, principal: &Principal) -> Result<(), Refusal> {
        Ok(self.admission.admit(principal)?)
    }
}

/// The contract's schema over a node, behind the gate.
#[derive(Clone)]
pub struct TahcEndpoint {
    schema: TahcSchema,
    gate: Gate,
}

/// A request refused before it ran, as a GraphQL response (counted with
/// the errors of requests that ran).
fn refused(error: async_graphql::Error) -> async_graphql::Response {
    let errors = vec![ServerError {
        message: error.message,
        source: None,
        locations: Vec::new(),
        path: Vec::new(),
        extensions: error.extensions,
    }];
    metrics::count_errors(&errors);
    async_graphql::Response::from_errors(errors)
}

impl Endpoint for TahcEndpoint {
    async fn execute(
        &self,
        headers: &HeaderMap,
        address: Option<IpAddr>,
        request: async_graphql::Request,
    ) -> async_graphql::Response {
        match self.gate.pass(headers, address) {
            Ok(principal) => self.schema.execute(request.data(Caller(principal))).await,
            Err(Refusal::Unauthenticated(error)) => {
                refused(error.extend_with(|_, e| e.set("code", "UNAUTHENTICATED")))
            }
            Err(Refusal::RateLimited(limited)) => {
                let seconds = limited.retry_after.as_secs_f64();
                refused(limited.extend_with(|_, e| {
                    e.set("code", "RATE_LIMITED");
                    e.set("retryAfter", seconds);
                }))
            }
        }
    }
}

/// Every route of a node, with the default rate limits, WebSocket settings
/// and input limits.
pub fn router(node: Arc<Node>) -> Router {
    router_with(
        node,
        Arc::new(RateLimits::new(RateLimitSettings::default())),
        LiveSettings::default(),
        Limits::default(),
    )
}

/// Every route of a node: GraphQL over HTTP and WebSocket, the contacts
/// export, the widget's sessions, health; callers admitted by `admission`,
/// inputs held to `limits`.
pub fn router_with(
    node: Arc<Node>,
    admission: Arc<dyn Admission>,
    live: LiveSettings,
    limits: Limits,
) -> Router {
    service(node, admission, live, limits).0
}

/// [`router_with`]'s routes, and the handle that closes their WebSocket
/// connections when the server shuts down.
pub fn service(
    node: Arc<Node>,
    admission: Arc<dyn Admission>,
    live: LiveSettings,
    limits: Limits,
) -> (Router, WebSockets) {
    metrics::install();
    let schema = schema::build(node.clone(), &limits, admission.clone());
    let addresses = Arc::new(AddressBlocks::new(limits.address_block));
    addresses.follow(&node);
    let gate = Gate {
        node: node.clone(),
        admission,
        addresses: addresses.clone(),
    };
    let widget = widget::Widget {
        node: node.clone(),
        admission: gate.admission.clone(),
        addresses,
    };
    let (live, sockets) = Live::new(schema.clone(), gate.clone(), live, limits);
    let endpoint = GraphqlEndpoints {
        http: TahcEndpoint {
            schema,
            gate: gate.clone(),
        },
        live,
    };
    let router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .with_state(endpoint)
        .merge(
            Router::new()
                .route("/export/contacts.csv", get(export::contacts_csv))
                .route("/export/contacts/{file}", get(export::contact_json))
                .with_state(gate),
        )
        .merge(
            Router::new()
                .route("/widget/session", post(widget::session))
                .with_state(widget),
        )
        .merge(
            Router::new()
                .route("/healthz", get(|| async { "ok" }))
                .route("/readyz", get(ready))
                .route("/metrics", get(metrics::render))
                .with_state(node),
        )
        .merge(web::routes())
        .route_layer(axum::middleware::from_fn(metrics::http))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(CatchPanicLayer::custom(panicked));
    (router, sockets)
}

/// Both transports of `/graphql`.
#[derive(Clone)]
struct GraphqlEndpoints {
    http: TahcEndpoint,
    live: Live,
}

/// GET `/graphql`: a WebSocket upgrade, else a query over HTTP (or GraphiQL
/// for a browser).
async fn graphql_get(
    State(endpoints): State<GraphqlEndpoints>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    peer: graphql_http::Peer,
    headers: HeaderMap,
    query: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    match upgrade {
        Ok(upgrade) => endpoints
            .live
            .upgrade(upgrade, &headers, client_address(&peer)),
        Err(_) => graphql_http::get(State(endpoints.http), peer, headers, query).await,
    }
}

/// POST `/graphql`: GraphQL over HTTP.
async fn graphql_post(
    State(endpoints): State<GraphqlEndpoints>,
    peer: graphql_http::Peer,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> axum::response::Response {
    graphql_http::post(State(endpoints.http), peer, headers, body).await
}

/// A request whose handler panicked: 500 `INTERNAL`, logged; the server
/// and every other request go on.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "a request handler panicked");
    let body = serde_json::json!({
        "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL" } }]
    });
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn ready(
    axum::extract::State(node): axum::extract::State<Arc<Node>>,
) -> (StatusCode, &'static str) {
    if node.ready().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "catching up")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_internal_and_the_router_serves_on() {
        let router = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(CatchPanicLayer::custom(panicked));
        let request = |path: &str| {
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let boom = router.clone().oneshot(request("/boom")).await.unwrap();
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(boom.into_body(), 1024).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
        let fine = router.oneshot(request("/fine")).await.unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
