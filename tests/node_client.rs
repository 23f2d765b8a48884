//! The `graphql-ws` npm client (tests/node) against a real `tahc serve`:
//! the protocol as the JavaScript ecosystem's reference client speaks it.

mod support;

use std::path::Path;
use std::process::Command;

use support::{BOOTSTRAP_KEY, npm_install, serve, stop};
use tempfile::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_ws_npm_client_subscribes_resumes_and_is_refused_bad_credentials() {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/node");
    npm_install(&client, "graphql-ws");
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let output = Command::new("node")
        .arg(client.join("graphql-ws-client.mjs"))
        .args([&served.base, BOOTSTRAP_KEY])
        .output()
        .expect("node is needed for the graphql-ws client test (install Node.js ≥ 18)");
    stop(served);
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
