//! The public face of tahc: GraphQL over HTTP (and, later, WebSocket),
//! the widget's sessions, health.
//!
//! [`graphql_http`] is the transport, as the GraphQL-over-HTTP
//! specification says; [`schema`] is the contract served through it.

pub mod export;
pub mod graphql_http;
pub mod rate_limit;
pub mod schema;
pub mod visitor_token;
mod widget;

use std::sync::Arc;

use async_graphql::{ErrorExtensions, ServerError};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use tahc_app::{Node, Principal};

use crate::graphql_http::Endpoint;
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
    /// The caller of a request (none: anonymous), if it may pass now.
    pub fn pass(&self, headers: &HeaderMap) -> Result<Option<Principal>, Refusal> {
        let principal = schema::authenticate(&self.node, headers)?;
        if let Some(principal) = &principal {
            self.admission.admit(principal)?;
        }
        Ok(principal)
    }
}

/// The contract's schema over a node, behind the gate.
#[derive(Clone)]
pub struct TahcEndpoint {
    schema: TahcSchema,
    gate: Gate,
}

/// A request refused before it ran, as a GraphQL response.
fn refused(error: async_graphql::Error) -> async_graphql::Response {
    async_graphql::Response::from_errors(vec![ServerError {
        message: error.message,
        source: None,
        locations: Vec::new(),
        path: Vec::new(),
        extensions: error.extensions,
    }])
}

impl Endpoint for TahcEndpoint {
    async fn execute(
        &self,
        headers: &HeaderMap,
        request: async_graphql::Request,
    ) -> async_graphql::Response {
        match self.gate.pass(headers) {
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

/// Every route of a node, with the default rate limits.
pub fn router(node: Arc<Node>) -> Router {
    router_with(
        node,
        Arc::new(RateLimits::new(RateLimitSettings::default())),
    )
}

/// Every route of a node: GraphQL, the contacts export, the widget's
/// sessions, health; callers admitted by `admission`.
pub fn router_with(node: Arc<Node>, admission: Arc<dyn Admission>) -> Router {
    let gate = Gate {
        node: node.clone(),
        admission,
    };
    let endpoint = TahcEndpoint {
        schema: schema::build(node.clone()),
        gate: gate.clone(),
    };
    graphql_routes(endpoint)
        .merge(
            Router::new()
                .route("/export/contacts.csv", get(export::contacts_csv))
                .with_state(gate),
        )
        .merge(
            Router::new()
                .route("/widget/session", post(widget::session))
                .route("/healthz", get(|| async { "ok" }))
                .route("/readyz", get(ready))
                .with_state(node),
        )
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
