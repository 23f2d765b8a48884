//! The public face of tahc: GraphQL over HTTP (and, later, WebSocket),
//! the widget's sessions, health.
//!
//! [`graphql_http`] is the transport, as the GraphQL-over-HTTP
//! specification says; [`schema`] is the contract served through it.

pub mod graphql_http;
pub mod schema;
pub mod visitor_token;
mod widget;

use std::sync::Arc;

use async_graphql::{ErrorExtensions, ServerError};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use tahc_app::Node;

use crate::graphql_http::Endpoint;
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

/// The contract's schema over a node, authenticating each request.
#[derive(Clone)]
pub struct TahcEndpoint {
    schema: TahcSchema,
    node: Arc<Node>,
}

impl Endpoint for TahcEndpoint {
    async fn execute(
        &self,
        headers: &HeaderMap,
        request: async_graphql::Request,
    ) -> async_graphql::Response {
        match schema::authenticate(&self.node, headers) {
            Ok(principal) => self.schema.execute(request.data(Caller(principal))).await,
            Err(error) => {
                let refusal = error.extend_with(|_, e| e.set("code", "UNAUTHENTICATED"));
                async_graphql::Response::from_errors(vec![ServerError {
                    message: refusal.message,
                    source: None,
                    locations: Vec::new(),
                    path: Vec::new(),
                    extensions: refusal.extensions,
                }])
            }
        }
    }
}

/// Every route of a node: GraphQL, the widget's sessions, health.
pub fn router(node: Arc<Node>) -> Router {
    let endpoint = TahcEndpoint {
        schema: schema::build(node.clone()),
        node: node.clone(),
    };
    graphql_routes(endpoint).merge(
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
