//! GraphQL over WebSocket with the `graphql-transport-ws` protocol, on
//! `/graphql`: subscriptions (and queries and mutations) for agents, bots
//! and dashboards that follow conversations live.
//!
//! [`protocol`] is the wire format and its close codes; [`connection`]
//! runs one connection.

mod broadcast;
mod connection;
pub mod protocol;
mod seats;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::http::HeaderMap;
use axum::response::Response;
use tokio::sync::watch;

use crate::Gate;
use crate::limits::Limits;
use crate::schema::TahcSchema;

/// The limits and timers of WebSocket connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSettings {
    /// How long a new connection may take to send `connection_init`.
    pub init_timeout: Duration,
    /// How often the server pings, so idle proxies keep the connection.
    pub keep_alive: Duration,
    /// How long a peer may stay silent (no message, no pong) before it is
    /// taken for gone and closed with 4504; longer than `keep_alive`.
    pub peer_timeout: Duration,
    /// Frames one operation may have waiting to be written.
    pub subscription_buffer: usize,
    /// How long an operation's buffer may stay full before its client
    /// counts as stalled and is disconnected (1013); meanwhile its
    /// subscription waits, reading the log when it goes on.
    pub stall_timeout: Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            init_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(15),
            peer_timeout: Duration::from_secs(45),
            subscription_buffer: 1_024,
            stall_timeout: Duration::from_secs(5),
        }
    }
}

/// What WebSocket connections serve: the schema, behind the gate.
#[derive(Clone)]
pub struct Live {
    schema: TahcSchema,
    gate: Gate,
    settings: LiveSettings,
    limits: Limits,
    /// Connections per visitor, taken at `connection_init`.
    seats: Arc<seats::Seats<uuid::Uuid>>,
    /// Connections per client address, taken at the upgrade.
    addresses: Arc<seats::Seats<IpAddr>>,
    /// Connections of the node, taken at the upgrade.
    all: Arc<seats::Seats<()>>,
    broadcasts: Arc<broadcast::Broadcasts>,
    closing: watch::Receiver<bool>,
}

/// Closes every WebSocket connection of a [`Live`] (and refuses new ones):
/// the server is shutting down.
#[derive(Debug)]
pub struct WebSockets {
    closing: watch::Sender<bool>,
}

impl WebSockets {
    /// Closes every connection with 1001 ("going away").
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }
}

impl Live {
    /// Connections to `schema` admitted by `gate`, held to `limits`.
    #[must_use]
    pub fn new(
        schema: TahcSchema,
        gate: Gate,
        settings: LiveSettings,
        limits: Limits,
    ) -> (Self, WebSockets) {
        let (closing, closed) = watch::channel(false);
        let live = Live {
            schema,
            gate,
            settings,
            limits,
            seats: Arc::new(seats::Seats::new(limits.connections_per_visitor)),
            addresses: Arc::new(seats::Seats::new(limits.connections_per_address)),
            all: Arc::new(seats::Seats::new(limits.connections)),
            broadcasts: Arc::default(),
            closing: closed,
        };
        (live, WebSockets { closing })
    }

    /// Accepts a WebSocket upgrade of `/graphql` from a client at `address`
    /// (when known). A client that does not offer `graphql-transport-ws` is
    /// closed with 4406; one past the connections its address or the node
    /// may hold is refused with 429 before the upgrade.
    pub fn upgrade(
        &self,
        upgrade: WebSocketUpgrade,
        headers: &HeaderMap,
        address: Option<IpAddr>,
    ) -> Response {
        let from_address = match address.map(|address| self.addresses.take(address)) {
            Some(None) => {
                return too_many(format!(
                    "at most {} WebSocket connections from one address",
                    self.addresses.max()
                ));
            }
            Some(seat) => seat,
            None => None,
        };
        let Some(of_node) = self.all.take(()) else {
            return too_many(format!(
                "this server holds {} WebSocket connections already",
                self.all.max()
            ));
        };
        // Credentials in the upgrade request serve when `connection_init`
        // carries none (clients that can set headers); they are checked
        // (and bad ones refused) at `connection_init`.
        let header_credential = crate::schema::bearer(headers).ok().flatten();
        let live = self.clone();
        let settings = self.settings;
        upgrade
            .protocols([protocol::SUBPROTOCOL])
            .read_buffer_size(4 * 1024)
            .write_buffer_size(16 * 1024)
            .max_message_size(self.limits.frame_bytes)
            .max_frame_size(self.limits.frame_bytes)
            .on_upgrade(move |socket| async move {
                // Held while the connection lasts.
                let _seats = (from_address, of_node);
                if socket.protocol().is_none() {
                    connection::refuse(socket, protocol::Close::subprotocol_not_acceptable()).await;
                    return;
                }
                if *live.closing.borrow() {
                    connection::refuse(socket, protocol::Close::going_away()).await;
                    return;
                }
                connection::serve(socket, live, settings, header_credential, address).await;
            })
    }
}

/// 429 for an upgrade past a connection cap, with a moment to wait.
fn too_many(reason: String) -> Response {
    use axum::response::IntoResponse;
    let mut response = (axum::http::StatusCode::TOO_MANY_REQUESTS, reason).into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    response
}
