//! The web pages in a real browser: headless Chromium, driven by
//! playwright-core (tests/browser), against a real `tahc serve`. A visitor
//! chats on the widget demo while an agent answers from the inbox.
//! Screenshots of every step are kept in target/tmp/browser-screenshots.

mod support;

use std::path::Path;
use std::process::Command;

use support::{BOOTSTRAP_KEY, npm_install, serve_with, stop, workspace_of};
use tempfile::TempDir;

/// Debian's Chromium, or the one `CHROMIUM` names.
fn chromium() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        Path::new(&path).exists(),
        "the browser tests need Chromium at {path} (`apt-get install chromium`, or set CHROMIUM)"
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_chats_on_the_widget_while_an_agent_answers_live_from_the_inbox() {
    let chromium = chromium();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    npm_install(&scripts, "playwright-core");
    let dir = TempDir::new().unwrap();
    // The visitors and the agents of this test share one address, as
    // behind a reverse proxy: blocking one must not block the others.
    let served = serve_with(&dir, Some(BOOTSTRAP_KEY), &["--block-address-minutes", "0"]);
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    let output = Command::new("node")
        .arg(scripts.join("inbox-and-widget.mjs"))
        .args([&served.base, BOOTSTRAP_KEY, &workspace])
        .arg(&shots)
        .env("CHROMIUM", chromium)
        .output()
        .expect("node is needed for the browser tests (install Node.js ≥ 18)");
    stop(served);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{stdout}");
    for step in [
        "1-inbox-empty",
        "3-inbox-live",
        "4-widget-reply",
        "8-contacts",
    ] {
        assert!(shots.join(format!("{step}.png")).exists(), "{step}");
    }
}
