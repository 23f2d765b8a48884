//! The messages of the `graphql-transport-ws` protocol (the graphql-ws
//! project's PROTOCOL.md) and its close codes.

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The longest operation id accepted (graphql-ws makes UUIDs, 36 bytes):
/// every frame of the operation repeats it, and the server keeps it.
pub const MAX_ID_BYTES: usize = 128;

/// The WebSocket subprotocol spoken.
pub const SUBPROTOCOL: &str = "graphql-transport-ws";

/// Why the server closes a connection: a close code and a short reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The WebSocket close code.
    pub code: u16,
    /// Why, at most [`Close::MAX_REASON`] bytes (a control frame's limit).
    pub reason: String,
}

impl Close {
    /// Longest reason a close frame can carry.
    pub const MAX_REASON: usize = 123;

    /// A close with `reason` cut, on a character boundary, to fit.
    #[must_use]
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > Self::MAX_REASON {
            let mut end = Self::MAX_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Close { code, reason }
    }

    /// 4400: a message that is not JSON, not a known type, or malformed.
    #[must_use]
    pub fn bad_request(detail: impl std::fmt::Display) -> Self {
        Close::new(4400, format!("Invalid message received: {detail}"))
    }

    /// 4401: `subscribe` before the connection was acknowledged.
    #[must_use]
    pub fn unauthorized() -> Self {
        Close::new(4401, "Unauthorized")
    }

    /// 4403: the credentials of `connection_init` were refused.
    #[must_use]
    pub fn forbidden(detail: impl std::fmt::Display) -> Self {
        Close::new(4403, format!("Forbidden: {detail}"))
    }

    /// 4403: the principal was revoked (deactivated, its key replaced, or
    /// its contact erased) while connected.
    #[must_use]
    pub fn revoked() -> Self {
        Close::new(4403, "Forbidden: the credentials were revoked")
    }

    /// 4406: the client does not speak `graphql-transport-ws`.
    #[must_use]
    pub fn subprotocol_not_acceptable() -> Self {
        Close::new(4406, "Subprotocol not acceptable")
    }

    /// 4408: no `connection_init` in time.
    #[must_use]
    pub fn init_timeout() -> Self {
        Close::new(4408, "Connection initialisation timeout")
    }

    /// 4409: an operation id that is already running.
    #[must_use]
    pub fn duplicate(id: &str) -> Self {
        Close::new(4409, format!("Subscriber for {id} already exists"))
    }

    /// 4429: a second `connection_init`.
    #[must_use]
    pub fn too_many_inits() -> Self {
        Close::new(4429, "Too many initialisation requests")
    }

    /// 1013 (try again later): `connection_init` over the caller's rate
    /// limit; graphql-ws clients retry this code on their own.
    #[must_use]
    pub fn try_later(limited: &crate::rate_limit::RateLimited) -> Self {
        Close::new(1013, format!("Rate limited: {limited}"))
    }

    /// 1013 (try again later): the client stopped reading and a
    /// subscription's buffer filled up; it may reconnect and resume.
    #[must_use]
    pub fn slow_consumer(id: &str) -> Self {
        Close::new(
            1013,
            format!("Slow consumer: the buffer of {id} is full; reconnect and resume with `after`"),
        )
    }

    /// 4504: nothing, not even a pong, came from the peer for `silence`.
    #[must_use]
    pub fn silent_peer(silence: std::time::Duration) -> Self {
        Close::new(
            4504,
            format!(
                "No answer to pings for {} s; reconnect and resume with `after`",
                silence.as_secs()
            ),
        )
    }

    /// 1009 (message too big): a client message over the frame limit.
    #[must_use]
    pub fn too_big(max_bytes: usize) -> Self {
        Close::new(1009, format!("Message too big: at most {max_bytes} bytes"))
    }

    /// 1008 (policy violation): the visitor holds as many connections as
    /// it may.
    #[must_use]
    pub fn too_many_connections(max: usize) -> Self {
        Close::new(
            1008,
            format!("Too many connections: a visitor may hold {max} at once"),
        )
    }

    /// 1001 (going away): the server is shutting down.
    #[must_use]
    pub fn going_away() -> Self {
        Close::new(1001, "Server shutting down")
    }
}

/// The `payload` of a `subscribe` message: a GraphQL request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribePayload {
    /// The document.
    pub query: String,
    /// Which operation of the document to run.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// The variables.
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
    /// Protocol extensions (accepted, unused).
    #[serde(default)]
    pub extensions: Option<Map<String, Value>>,
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Opens the connection, with credentials.
    ConnectionInit {
        /// `{"authorization": "Bearer …"}` or `{"token": "…"}`.
        #[serde(default)]
        payload: Option<Map<String, Value>>,
    },
    /// Asks for a `pong`.
    Ping {
        /// Echoed in the `pong`.
        #[serde(default)]
        payload: Option<Map<String, Value>>,
    },
    /// Answers a `ping`.
    Pong {
        /// Ignored.
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Map<String, Value>>,
    },
    /// Starts an operation.
    Subscribe {
        /// The operation's id, unique among those running.
        id: String,
        /// The request.
        payload: SubscribePayload,
    },
    /// Stops an operation.
    Complete {
        /// The operation's id.
        id: String,
    },
}

impl ClientMessage {
    /// Parses one text frame; the reason is short enough for a close frame.
    pub fn parse(text: &str) -> Result<Self, Close> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|error| {
            let detail = error.to_string();
            Close::bad_request(detail.split(" at line").next().unwrap_or_default())
        })?;
        match &message {
            ClientMessage::Subscribe { id, .. } | ClientMessage::Complete { id }
                if id.is_empty() =>
            {
                Err(Close::bad_request("`id` must not be empty"))
            }
            ClientMessage::Subscribe { id, .. } | ClientMessage::Complete { id }
                if id.len() > MAX_ID_BYTES =>
            {
                Err(Close::bad_request(format!(
                    "`id` must be at most {MAX_ID_BYTES} bytes"
                )))
            }
            _ => Ok(message),
        }
    }
}

/// The `connection_ack` message.
#[must_use]
pub fn ack() -> String {
    json!({"type": "connection_ack"}).to_string()
}

/// A `ping` (from the server, so idle proxies keep the connection).
#[must_use]
pub fn ping() -> String {
    json!({"type": "ping"}).to_string()
}

/// A `pong`, echoing the ping's payload.
#[must_use]
pub fn pong(payload: Option<Map<String, Value>>) -> String {
    match payload {
        Some(payload) => json!({"type": "pong", "payload": payload}),
        None => json!({"type": "pong"}),
    }
    .to_string()
}

/// A `next` message: one execution result of operation `id`.
#[must_use]
pub fn next(id: &str, response: &async_graphql::Response) -> String {
    let payload = serde_json::to_string(response).unwrap_or_else(|_| "null".to_owned());
    format!("{}{payload}}}", next_frame_start(id))
}

/// The start of a `next` message of operation `id`, up to its payload:
/// a rendered payload and `}` complete it.
#[must_use]
pub fn next_frame_start(id: &str) -> String {
    let id = serde_json::Value::from(id);
    format!(r#"{{"id":{id},"type":"next","payload":"#)
}

/// An `error` message: operation `id` could not run (e.g. it failed
/// validation); no `complete` follows.
#[must_use]
pub fn error(id: &str, errors: &[async_graphql::ServerError]) -> String {
    json!({"id": id, "type": "error", "payload": errors}).to_string()
}

/// A `complete` message: operation `id` has ended.
#[must_use]
pub fn complete(id: &str) -> String {
    json!({"id": id, "type": "complete"}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_reason_is_cut_to_fit_a_control_frame() {
        let close = Close::duplicate(&"é".repeat(200));
        assert!(close.reason.len() <= Close::MAX_REASON);
        assert!(close.reason.starts_with("Subscriber for "));
    }

    #[test]
    fn unknown_malformed_and_idless_messages_are_bad_requests() {
        for text in [
            "not json",
            "{}",
            r#"{"type":"start","id":"1"}"#,
            r#"{"type":"subscribe","id":"1"}"#,
            r#"{"type":"subscribe","id":"","payload":{"query":"{a}"}}"#,
            r#"{"type":"subscribe","id":7,"payload":{"query":"{a}"}}"#,
            r#"{"type":"connection_init","payload":"token"}"#,
            r#"[1,2]"#,
        ] {
            let close = ClientMessage::parse(text).unwrap_err();
            assert_eq!(close.code, 4400, "{text}");
            assert!(close.reason.len() <= Close::MAX_REASON);
        }
    }

    #[test]
    fn every_client_message_type_parses() {
        for text in [
            r#"{"type":"connection_init"}"#,
            r#"{"type":"connection_init","payload":{"token":"t"}}"#,
            r#"{"type":"connection_init","payload":null}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"pong","payload":{"x":1}}"#,
            r#"{"type":"subscribe","id":"1","payload":{"query":"{a}","variables":null}}"#,
            r#"{"type":"complete","id":"1"}"#,
        ] {
            assert!(ClientMessage::parse(text).is_ok(), "{text}");
        }
    }
}
