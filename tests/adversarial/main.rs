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
mod erasure;
mod error_contract;
mod expensive_fields;
mod identity;
mod keys;
mod rate_limits;
mod revocation;

/// What `probe` finds, polled every 100 ms for up to 30 s: for what the
/// node does in the background right after a request (process managers,
/// followers of the log). `None` when it never finds it.
async fn eventually<T, F>(mut probe: impl FnMut() -> F) -> Option<T>
where
    F: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(found) = probe().await {
            return Some(found);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

/// The WebSocket URL of a server at `base`.
fn ws_url(base: &str) -> String {
    format!("{}/graphql", base.replacen("http", "ws", 1))
}
