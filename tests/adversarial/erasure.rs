//! Erasure is physical: once `eraseContact` answers, no file of the data
//! directory holds the contact's personal data in plain text, with the
//! server running and after it stopped (finding 4 of issue 32).

use std::path::Path;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::eventually;
use crate::support::{
    BOOTSTRAP_KEY, contact_by_email, graphql, serve, start_conversation, stop, visitor,
    workspace_of,
};

/// One marker per kind of personal data, in lower case as the search
/// indexes keep words.
const MARKERS: [&str; 7] = [
    "zqxfirstname",
    "zqxrenamed",
    "zqxmailbox",
    "zqxopening",
    "zqxnotebody",
    "zqxfieldvalue",
    "zqxinternal",
];

/// Whether any file under `dir` holds `bytes`.
fn bytes_under(dir: &Path, bytes: &[u8]) -> bool {
    files_under(dir)
        .iter()
        .any(|(_, held)| held.windows(bytes.len()).any(|w| w == bytes))
}

/// Every file under `dir` and its bytes.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&path) {
            files.push((path, bytes));
        }
    }
    files
}

/// The markers found in any file under `dir`, with the file.
fn markers_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for (path, bytes) in files_under(dir) {
        for marker in MARKERS {
            if bytes.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                found.push(format!("{marker} in {}", path.display()));
            }
        }
    }
    found
}

async fn admin(base: &str, query: &str, variables: Value) -> Value {
    let answer = graphql(base, BOOTSTRAP_KEY, query, variables).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let payload = answer["data"]
        .as_object()
        .and_then(|data| data.values().next());
    assert_eq!(
        payload.map(|p| &p["userErrors"]),
        Some(&json!([])),
        "{answer}"
    );
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_erase_contact_no_file_of_the_data_directory_holds_its_personal_data() {
    let dir = TempDir::new().unwrap();
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let base = served.base.clone();
    let workspace = workspace_of(&base, BOOTSTRAP_KEY).await;
    let token = visitor(&base, &workspace).await;
    let conversation = start_conversation(&base, &token, "hello zqxopening here").await;
    let identified = graphql(
        &base,
        &token,
        "mutation { identifyVisitor(input: {email: \"zqxmailbox@example.com\", name: \"Ada zqxfirstname\"}) { userErrors { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        identified["data"]["identifyVisitor"]["userErrors"],
        json!([]),
        "{identified}"
    );
    let contact = contact_by_email(&base, "zqxmailbox@example.com").await;
    admin(
        &base,
        "mutation($c: ID!) { updateContact(input: {contactId: $c, name: \"Ada zqxrenamed\"}) { userErrors { code message } } }",
        json!({ "c": contact }),
    )
    .await;
    admin(
        &base,
        "mutation($c: ID!) { addContactNote(input: {contactId: $c, body: \"zqxnotebody of a call\"}) { userErrors { code message } } }",
        json!({ "c": contact }),
    )
    .await;
    admin(
        &base,
        "mutation { defineCustomField(input: {key: \"passport\", label: \"Passport\", type: TEXT}) { userErrors { code message } } }",
        json!({}),
    )
    .await;
    admin(
        &base,
        "mutation($c: ID!) { setContactCustomField(input: {contactId: $c, key: \"passport\", value: \"zqxfieldvalue\"}) { userErrors { code message } } }",
        json!({ "c": contact }),
    )
    .await;
    admin(
        &base,
        "mutation($c: ID!) { sendMessage(input: {conversationId: $c, body: \"zqxinternal: she called\", internal: true}) { userErrors { code message } } }",
        json!({ "c": conversation }),
    )
    .await;
    // The markers reach the views' files (sled writes them out within a
    // second): the test would prove nothing if they never did.
    let written = eventually(|| async {
        let written = markers_under(dir.path());
        MARKERS
            .iter()
            .all(|marker| written.iter().any(|found| found.starts_with(marker)))
            .then_some(written)
    })
    .await;
    assert!(
        written.is_some(),
        "every marker should be on disk before the erasure: {:?}",
        markers_under(dir.path())
    );

    // The key the subject keys are sealed with: what sled keeps of the
    // destroyed keys stays sealed with it, so it must go.
    let wrapping = std::fs::read(dir.path().join("log/subject-keys.key")).unwrap();
    admin(
        &base,
        "mutation($c: ID!) { eraseContact(input: {contactId: $c}) { userErrors { code message } } }",
        json!({ "c": contact }),
    )
    .await;
    assert!(
        !bytes_under(dir.path(), &wrapping[8..]),
        "the old wrapping key is still in a file"
    );
    assert_eq!(
        markers_under(dir.path()),
        Vec::<String>::new(),
        "with the server running"
    );
    stop(served);
    assert_eq!(
        markers_under(dir.path()),
        Vec::<String>::new(),
        "with the server stopped"
    );

    // The node starts again on the compacted views and serves them.
    let served = serve(&dir, Some(BOOTSTRAP_KEY));
    let erased = graphql(
        &served.base,
        BOOTSTRAP_KEY,
        "query($c: ID!) { node(id: $c) { ... on Contact { name email } } }",
        json!({ "c": contact }),
    )
    .await;
    assert_eq!(
        erased["data"]["node"],
        json!({ "name": null, "email": null }),
        "{erased}"
    );
    stop(served);
}
