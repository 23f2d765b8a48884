//! `POST /widget/session`: a new visitor of a workspace and its token.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tahc_app::{AppError, Node};
use uuid::Uuid;

use crate::rate_limit::Admission;
use crate::schema::{decode_id, encode_id};
use crate::visitor_token::{self, VisitorClaim};

/// How long a visitor token is valid.
pub const TOKEN_LIFETIME_DAYS: i64 = 30;

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Opens a session for a new visitor of the named workspace: its token.
/// Nothing is written until the visitor does something, and sessions are
/// limited per client address and in all (429 with `Retry-After` beyond).
pub async fn session(State(widget): State<Widget>, request: Request) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let Ok(body) = axum::body::to_bytes(request.into_body(), BODY_BYTES).await else {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
    };
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the body must be JSON: {\"workspace\": \"<workspace id>\"}",
            );
        }
    };
    let Some(workspace) = request.get("workspace").and_then(Value::as_str) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "`workspace` (a workspace id) is required",
        );
    };
    let Some(workspace_id) =
        decode_id("Workspace", workspace).or_else(|| Uuid::parse_str(workspace).ok())
    else {
        return refuse(StatusCode::NOT_FOUND, "no such workspace");
    };
    if address.is_some_and(|address| widget.addresses.is_blocked(address)) {
        return refuse(
            StatusCode::FORBIDDEN,
            "blocked: this address may not open a new chat for now",
        );
    }
    if let Err(limited) = widget.admission.admit_session(address) {
        let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, &limited.to_string());
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(limited.retry_after.as_secs_f64().ceil() as u64),
        );
        return response;
    }
    let node = &widget.node;
    match node.commands.new_visitor(workspace_id).await {
        Ok(visitor) => {
            let visitor_id = visitor.visitor_id().unwrap_or_default();
            let expires = node.commands.now() + Duration::days(TOKEN_LIFETIME_DAYS);
            let claim = VisitorClaim {
                visitor_id,
                workspace_id,
                expires_at: DateTime::<Utc>::from_timestamp(expires.timestamp(), 0)
                    .unwrap_or(expires),
            };
            Json(json!({
                "visitorId": encode_id("Visitor", visitor_id).0,
                "token": visitor_token::sign(&node.token_key, &claim),
                "expiresAt": claim.expires_at,
            }))
            .into_response()
        }
        Err(AppError::NotFound { .. }) => refuse(StatusCode::NOT_FOUND, "no such workspace"),
        Err(error) => {
            tracing::error!(%error, "cannot open a widget session");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// What `POST /widget/session` needs: the node, and the admission that
/// limits new sessions.
#[derive(Clone)]
pub struct Widget {
    /// The node.
    pub node: Arc<Node>,
    /// Limits new sessions.
    pub admission: Arc<dyn Admission>,
    /// Addresses of blocked visitors, which open no new session.
    pub addresses: Arc<crate::address_blocks::AddressBlocks>,
}

/// The largest session request read (it holds one workspace id).
const BODY_BYTES: usize = 4 << 10;
