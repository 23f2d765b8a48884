//! `POST /widget/session`: a new visitor of a workspace and its token.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tahc_app::{AppError, Node};
use uuid::Uuid;

use crate::schema::{decode_id, encode_id};
use crate::visitor_token::{self, VisitorClaim};

/// How long a visitor token is valid.
pub const TOKEN_LIFETIME_DAYS: i64 = 30;

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Creates a visitor of the named workspace and returns its token.
pub async fn session(State(node): State<Arc<Node>>, body: Bytes) -> Response {
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
    match node.commands.new_visitor(workspace_id).await {
        Ok(visitor) => {
            // Answer with the visitor visible, like every write.
            let head = log_head(&node).await;
            if !node.wait_for(head, std::time::Duration::from_secs(5)).await {
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the views are catching up; retry",
                );
            }
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

async fn log_head(node: &Node) -> tahc_events::Position {
    node.log.head().await.unwrap_or_default()
}
