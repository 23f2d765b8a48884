//! `tahc migrate`: a sled data directory's log, keys and secrets copied into
//! PostgreSQL, and a node started on the copy carries on where the old one
//! stopped — same admin key, same conversations and contacts, the old
//! visitor tokens still good, the same email still the same contact.

mod support;

use serde_json::{Value, json};
use support::postgres::fresh_store;
use support::{
    BOOTSTRAP_KEY, graphql, serve, serve_with, start_conversation, stop, visitor, workspace_of,
};
use tempfile::TempDir;

fn migrate(from: &std::path::Path, to: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tahc"))
        .args(["migrate", "--to", to, "--from"])
        .arg(from)
        .output()
        .unwrap()
}

async fn identify(base: &str, token: &str, email: &str) -> String {
    let identified = graphql(
        base,
        token,
        "mutation($e:String!){identifyVisitor(input:{email:$e}){contact{id} userErrors{message}}}",
        json!({ "e": email }),
    )
    .await;
    assert!(identified.get("errors").is_none(), "{identified}");
    support::contact_by_email(base, email).await
}

async fn contact(base: &str, email: &str) -> Value {
    graphql(
        base,
        BOOTSTRAP_KEY,
        "query($e:String!){contactByEmail(email:$e){id conversationCount}}",
        json!({ "e": email }),
    )
    .await["data"]["contactByEmail"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_the_migrated_log_carries_on_where_the_sled_node_stopped() {
    let old = TempDir::new().unwrap();
    let served = serve(&old, Some(BOOTSTRAP_KEY));
    let workspace = workspace_of(&served.base, BOOTSTRAP_KEY).await;
    let token = visitor(&served.base, &workspace).await;
    let conversation = start_conversation(&served.base, &token, "before the move").await;
    let contact_id = identify(&served.base, &token, "ada@example.com").await;
    // Linking the conversation to the contact is a reaction: wait for it.
    let mut before = contact(&served.base, "ada@example.com").await;
    for _ in 0..200 {
        if before["conversationCount"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        before = contact(&served.base, "ada@example.com").await;
    }
    assert_eq!(before["conversationCount"], 1, "{before}");
    stop(served);

    let log = fresh_store().await;
    let store = log.url.clone();
    let migrated = migrate(old.path(), &store);
    let said = String::from_utf8_lossy(&migrated.stdout);
    assert!(
        migrated.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    assert!(said.contains("hash chain intact in the copy"), "{said}");

    let views = TempDir::new().unwrap();
    let served = serve_with(&views, None, &["--store", &store]);
    assert!(served.lines.iter().any(|l| l.contains("Existing data")));
    let base = &served.base;
    assert_eq!(workspace_of(base, BOOTSTRAP_KEY).await, workspace);
    assert_eq!(contact(base, "ada@example.com").await, before);
    // The old visitor token is good here: the signing key moved too.
    let sent = graphql(
        base,
        &token,
        "mutation($c:ID!){sendMessage(input:{conversationId:$c,body:\"after the move\"}){message{id}}}",
        json!({ "c": conversation }),
    )
    .await;
    assert!(
        sent["data"]["sendMessage"]["message"]["id"].is_string(),
        "{sent}"
    );
    let timeline = graphql(
        base,
        BOOTSTRAP_KEY,
        "query($c:ID!){conversation(id:$c){messages(first:10){nodes{body}}}}",
        json!({ "c": conversation }),
    )
    .await;
    let bodies: Vec<&str> = timeline["data"]["conversation"]["messages"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{timeline}"))
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(bodies, ["before the move", "after the move"]);
    // A new visitor giving the same email is the same contact: the key that
    // hashes emails moved too.
    let newcomer = visitor(base, &workspace).await;
    start_conversation(base, &newcomer, "hello again").await;
    assert_eq!(
        identify(base, &newcomer, "ada@example.com").await,
        contact_id
    );
    let verified = graphql(base, BOOTSTRAP_KEY, "{verifyLog{ok}}", json!({})).await;
    assert_eq!(verified["data"]["verifyLog"]["ok"], true, "{verified}");
    stop(served);

    // Migrating again is refused: the database's log is not empty.
    let again = migrate(old.path(), &store);
    assert_eq!(again.status.code(), Some(1));
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("already holds a log"), "{said}");
    // A directory without a log is named, and nothing is created there.
    let nowhere = old.path().join("nothing-here");
    let missing = migrate(&nowhere, &store);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no tahc event log"));
    assert!(!nowhere.exists());
    log.remove().await;
}
