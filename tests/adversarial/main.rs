//! tahc tried as an attacker would, from outside: the built binary on a
//! fresh data directory, hostile requests over real HTTP and WebSocket.
//! Each module is one class of hole (issue 32); each test asserts the safe
//! outcome of one reproduction.

#[path = "../support/mod.rs"]
mod support;

#[path = "../../crates/api/tests/support/ws.rs"]
#[allow(dead_code)]
mod ws;

mod blocking;
mod connections;
mod control_characters;
mod data_dir;
mod deep_values;
mod error_contract;
mod expensive_fields;
mod identity;
mod keys;
mod rate_limits;
mod revocation;

/// The WebSocket URL of a server at `base`.
fn ws_url(base: &str) -> String {
    format!("{}/graphql", base.replacen("http", "ws", 1))
}
