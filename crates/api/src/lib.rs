//! The public face of tahc: GraphQL over HTTP and WebSocket, exports,
//! health and metrics.
//!
//! [`graphql_http`] is the transport, as the GraphQL-over-HTTP
//! specification says; the schema of the contract is served through it.

pub mod graphql_http;
pub mod visitor_token;

use async_graphql::Executor;
use axum::Router;
use axum::routing::get;

/// The `/graphql` routes for an executor (a schema).
pub fn graphql_routes<E: Executor + Clone + 'static>(executor: E) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql_http::get::<E>).post(graphql_http::post::<E>),
        )
        .with_state(executor)
}
