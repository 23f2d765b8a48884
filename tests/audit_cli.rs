//! The auditors' and operators' commands of the built `tahc` binary on a
//! data directory holding real conversations: filtered events, replay,
//! rebuild, subject export, and what they do while a server holds it.

mod support;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use serde_json::Value;
use tahc_app::{Node, Principal, SendMessage, SystemClock};
use tahc_events::ConversationStatus;
use tempfile::TempDir;
use uuid::Uuid;

fn tahc(dir: &Path, args: &[&str]) -> Output {
    support::tahc_on(dir, args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the data directory holds.
struct History {
    dir: TempDir,
    conversation: Uuid,
    contact: Uuid,
    /// The log position right after the visitor's first message.
    started_at: u64,
}

fn message(conversation: Uuid, body: &str, internal: bool) -> SendMessage {
    SendMessage {
        conversation_id: conversation,
        body: body.into(),
        internal,
        confidence: None,
        idempotency_key: None,
    }
}

/// A workspace where a visitor asked, gave an email, an agent took over,
/// answered, noted and closed; a second visitor's contact was erased.
async fn history() -> (History, Uuid) {
    let dir = TempDir::new().unwrap();
    let node = Node::start(dir.path(), Arc::new(SystemClock))
        .await
        .unwrap();
    let c = &node.commands;
    let created = c
        .create_workspace("Acme".into(), "Ada".into(), "ada@acme.example".into(), None)
        .await
        .unwrap();
    let admin: Principal = created.admin;
    let visitor = c.new_visitor(created.workspace_id).await.unwrap();
    let (conversation, started) = c
        .start_conversation(&visitor, None, "where is my parcel?".into())
        .await
        .unwrap();
    let started_at = started.appended.unwrap().last_position.0;
    let contact = c
        .identify_visitor(&visitor, None, "pat@example.com".into(), Some("Pat".into()))
        .await
        .unwrap()
        .linked()
        .unwrap();
    c.take_over(&admin, conversation).await.unwrap();
    c.send_message(&admin, message(conversation, "it ships today", false))
        .await
        .unwrap();
    c.send_message(&admin, message(conversation, "VIP, be nice", true))
        .await
        .unwrap();
    c.set_status(&admin, conversation, ConversationStatus::Closed)
        .await
        .unwrap();
    let other = c.new_visitor(created.workspace_id).await.unwrap();
    let (gone_conversation, _) = c
        .start_conversation(&other, None, "delete me please".into())
        .await
        .unwrap();
    let gone = c
        .identify_visitor(&other, None, "gone@example.com".into(), None)
        .await
        .unwrap()
        .linked()
        .unwrap();
    c.erase_contact(&admin, gone).await.unwrap();
    let head = node.log.head().await.unwrap();
    assert!(
        node.wait_for(head, std::time::Duration::from_secs(10))
            .await
    );
    node.shutdown().await;
    let history = History {
        dir,
        conversation,
        contact,
        started_at,
    };
    (history, gone_conversation)
}

fn json_lines(output: &Output) -> Vec<Value> {
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn events_filters_a_conversation_by_type_and_shows_personal_data_opened_or_erased() {
    let (h, gone) = history().await;
    let conversation = h.conversation.to_string();
    let all = json_lines(&tahc(
        h.dir.path(),
        &["events", "--json", "--conversation", &conversation],
    ));
    assert!(
        all.iter()
            .all(|e| e["stream_id"] == format!("conversation-{conversation}"))
    );
    let messages_of = |conversation: &str| {
        json_lines(&tahc(
            h.dir.path(),
            &[
                "events",
                "--json",
                "--conversation",
                conversation,
                "--type",
                "conversation.message_posted",
            ],
        ))
    };
    let messages = messages_of(&conversation);
    let bodies: Vec<&str> = messages
        .iter()
        .map(|e| e["payload"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["where is my parcel?", "it ships today", "VIP, be nice"]
    );
    assert!(messages.len() < all.len());

    let erased = messages_of(&gone.to_string());
    assert_eq!(erased[0]["payload"]["body"], Value::Null, "{:?}", erased[0]);

    let none = json_lines(&tahc(
        h.dir.path(),
        &[
            "events",
            "--json",
            "--conversation",
            &conversation,
            "--from",
            "2999-01-01T00:00:00Z",
        ],
    ));
    assert!(none.is_empty());
    let bad = tahc(h.dir.path(), &["events", "--conversation", "not-an-id"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("neither a UUID nor a Conversation id"),
        "{}",
        text(&bad.stderr)
    );
}

#[tokio::test]
async fn replay_prints_a_conversation_as_it_stood_at_a_position_or_now() {
    let (h, _) = history().await;
    let conversation = h.conversation.to_string();
    let then = tahc(
        h.dir.path(),
        &[
            "replay",
            "--conversation",
            &conversation,
            "--until",
            &h.started_at.to_string(),
        ],
    );
    assert!(then.status.success(), "{}", text(&then.stderr));
    let then = text(&then.stdout);
    assert!(
        then.contains("status Open") && then.contains("controller Ai"),
        "{then}"
    );
    assert!(
        then.contains("where is my parcel?") && !then.contains("it ships today"),
        "{then}"
    );

    let now = text(&tahc(h.dir.path(), &["replay", "--conversation", &conversation]).stdout);
    assert!(
        now.contains("status Closed") && now.contains("controller Human"),
        "{now}"
    );
    assert!(
        now.contains("it ships today") && now.contains("Agent (note)"),
        "{now}"
    );

    let json = tahc(
        h.dir.path(),
        &[
            "replay",
            "--json",
            "--conversation",
            &conversation,
            "--until",
            "2000-01-01T00:00:00Z",
        ],
    );
    assert_eq!(json.status.code(), Some(1), "not started by then");
    let bad = tahc(
        h.dir.path(),
        &[
            "replay",
            "--conversation",
            &conversation,
            "--until",
            "yesterday",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("neither a log position nor an RFC 3339 time"));
}

/// Every file under `dir`, concatenated.
fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(bytes_under(&path));
        } else {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

#[tokio::test]
async fn rebuild_writes_fresh_views_that_serve_the_same_answers_and_hold_no_erased_text() {
    let (h, _) = history().await;
    let output = tahc(h.dir.path(), &["rebuild"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    assert!(
        report.contains("rebuilt every view from") && report.contains("events/s"),
        "{report}"
    );
    assert!(
        !holds(&bytes_under(h.dir.path()), "delete me please"),
        "erased text left in the data directory"
    );
    assert!(
        !holds(
            &bytes_under(&h.dir.path().join("log")),
            "where is my parcel"
        ),
        "plaintext in the log"
    );
    // One views directory is left: the one the rebuild wrote.
    assert!(h.dir.path().join("views").exists() != h.dir.path().join("views.next").exists());

    // The node starts on the rebuilt views, caught up, with the same data.
    let node = Node::start(h.dir.path(), Arc::new(SystemClock))
        .await
        .unwrap();
    let record = node.conversations().get(h.conversation).unwrap().unwrap();
    assert_eq!(record.status, ConversationStatus::Closed);
    assert_eq!(record.message_count, 3);
    let contact = node.contacts().get(h.contact).unwrap().unwrap();
    assert_eq!(contact.email.as_deref(), Some("pat@example.com"));
    node.shutdown().await;
    let verified = tahc(h.dir.path(), &["verify"]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
}

#[tokio::test]
async fn export_prints_the_contacts_document_and_refuses_an_unknown_contact() {
    let (h, _) = history().await;
    let output = tahc(
        h.dir.path(),
        &["export", "--contact", &h.contact.to_string()],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let export: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(export["contact"]["email"], "pat@example.com");
    let messages = &export["conversations"][0]["messages"];
    assert_eq!(messages[0]["author"]["kind"], "VISITOR");
    assert_eq!(messages[1]["author"]["kind"], "AGENT");
    assert_eq!(messages[1]["author"]["name"], "Ada");
    assert!(
        !export.to_string().contains("VIP"),
        "internal notes are not the subject's data"
    );

    let unknown = tahc(
        h.dir.path(),
        &["export", "--contact", &Uuid::now_v7().to_string()],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no contact"));
    let empty = TempDir::new().unwrap();
    let missing = tahc(
        empty.path(),
        &["export", "--contact", &h.contact.to_string()],
    );
    assert!(!missing.status.success());
    assert!(
        std::fs::read_dir(empty.path()).unwrap().next().is_none(),
        "nothing created"
    );
}

#[tokio::test]
async fn commands_on_a_running_servers_data_dir_refuse_clearly_and_change_nothing() {
    let dir = TempDir::new().unwrap();
    let served = support::serve(&dir, None);
    for args in [
        &["rebuild"][..],
        &["verify"],
        &["events"],
        &["replay", "--conversation", &Uuid::now_v7().to_string()],
    ] {
        let output = tahc(dir.path(), args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            text(&output.stderr).contains("in use by another process")
                || text(&output.stderr).contains("locked"),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    support::stop(served);
    let verified = tahc(dir.path(), &["verify"]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_as_durable_as_the_messages_they_seal_across_a_sigkill() {
    use serde_json::json;
    let dir = TempDir::new().unwrap();
    let served = support::serve(&dir, Some(support::BOOTSTRAP_KEY));
    let workspace = support::workspace_of(&served.base, support::BOOTSTRAP_KEY).await;
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        let token = support::visitor(&served.base, &workspace).await;
        let body = format!("acknowledged secret {n}");
        let started = support::graphql(
            &served.base,
            &token,
            "mutation($b:String!){startConversation(input:{body:$b}){conversation{id}}}",
            json!({"b": body}),
        )
        .await;
        assert!(
            started["data"]["startConversation"]["conversation"]["id"].is_string(),
            "{started}"
        );
        acknowledged.push(body);
    }
    support::kill(served);

    assert!(
        !holds(&bytes_under(&dir.path().join("log")), "acknowledged secret"),
        "sealed at rest"
    );
    let output = tahc(
        dir.path(),
        &["events", "--json", "--type", "conversation.message_posted"],
    );
    let bodies: Vec<String> = json_lines(&output)
        .iter()
        .map(|e| {
            e["payload"]["body"]
                .as_str()
                .unwrap_or("<erased>")
                .to_owned()
        })
        .collect();
    assert_eq!(
        bodies, acknowledged,
        "every acknowledged message opens after the crash"
    );
}

/// `tahc ARGS --store STORE` with `dir` as its data directory.
fn tahc_on_store(dir: &Path, store: &str, args: &[&str]) -> Output {
    let mut with_store = args.to_vec();
    with_store.extend(["--store", store]);
    tahc(dir, &with_store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_audit_command_reads_a_postgres_log_as_it_read_the_sled_log_it_came_from() {
    let (h, _) = history().await;
    let pg = support::postgres::fresh_store().await;
    let migrated = std::process::Command::new(env!("CARGO_BIN_EXE_tahc"))
        .args(["migrate", "--to", &pg.url, "--from"])
        .arg(h.dir.path())
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    let conversation = h.conversation.to_string();
    let contact = h.contact.to_string();
    // The PostgreSQL commands get a data directory of their own: only
    // rebuild and export use it, for the views.
    let views = TempDir::new().unwrap();
    let same = |args: &[&str]| {
        let sled = tahc(h.dir.path(), args);
        let postgres = tahc_on_store(views.path(), &pg.url, args);
        assert!(sled.status.success(), "{args:?}: {}", text(&sled.stderr));
        assert!(
            postgres.status.success(),
            "{args:?}: {}",
            text(&postgres.stderr)
        );
        assert_eq!(text(&postgres.stdout), text(&sled.stdout), "{args:?}");
        text(&postgres.stdout)
    };
    assert!(same(&["verify"]).contains("hash chain intact"));
    let events = same(&["events", "--json"]);
    assert!(events.contains("pat@example.com"), "{events}");
    same(&["events", "--conversation", &conversation]);
    same(&["replay", "--conversation", &conversation]);
    let until = h.started_at.to_string();
    same(&["replay", "--conversation", &conversation, "--until", &until]);
    // An export says when it was made; everything else is the same.
    let export = |output: Output| {
        assert!(output.status.success(), "{}", text(&output.stderr));
        let mut document: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(document["exportedAt"].is_string(), "{document}");
        document["exportedAt"] = Value::Null;
        document
    };
    let exported = export(tahc_on_store(
        views.path(),
        &pg.url,
        &["export", "--contact", &contact],
    ));
    assert_eq!(
        exported,
        export(tahc(h.dir.path(), &["export", "--contact", &contact]))
    );
    assert_eq!(exported["contact"]["email"], "pat@example.com");

    // An auditor's database role that may only read does for the commands
    // that only read.
    let auditor = format!("{}_auditor", pg.schema);
    pg.database
        .batch_execute(&format!(
            "CREATE ROLE {auditor} LOGIN; GRANT USAGE ON SCHEMA {schema} TO {auditor};
             GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {auditor};",
            schema = pg.schema
        ))
        .await
        .unwrap();
    let (scheme, rest) = pg.url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    let read_only = format!("{scheme}://{auditor}@{host}");
    for args in [
        &["verify"][..],
        &["events", "--json"],
        &["replay", "--conversation", &conversation],
    ] {
        let sled = tahc(h.dir.path(), args);
        let audited = tahc_on_store(views.path(), &read_only, args);
        assert!(
            audited.status.success(),
            "{args:?}: {}",
            text(&audited.stderr)
        );
        assert_eq!(text(&audited.stdout), text(&sled.stdout), "{args:?}");
    }
    // Rebuild and export write only the node's own views.
    let rebuilt = tahc_on_store(views.path(), &read_only, &["rebuild"]);
    assert!(rebuilt.status.success(), "{}", text(&rebuilt.stderr));
    assert_eq!(
        export(tahc_on_store(
            views.path(),
            &read_only,
            &["export", "--contact", &contact],
        )),
        exported
    );
    pg.database
        .batch_execute(&format!("DROP OWNED BY {auditor}; DROP ROLE {auditor};"))
        .await
        .unwrap();

    let rebuilt = tahc_on_store(views.path(), &pg.url, &["rebuild"]);
    assert!(rebuilt.status.success(), "{}", text(&rebuilt.stderr));
    assert!(text(&rebuilt.stdout).contains("rebuilt every view from"));
    assert!(
        !holds(&bytes_under(views.path()), "delete me please"),
        "erased text in the views rebuilt from PostgreSQL"
    );
    let unknown = tahc_on_store(
        views.path(),
        &pg.url,
        &["export", "--contact", &Uuid::now_v7().to_string()],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no contact"));
    assert!(!text(&unknown.stderr).contains("password"));
    pg.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_commands_on_a_database_without_a_log_say_so_and_create_no_tables() {
    let pg = support::postgres::fresh_store().await;
    let dir = TempDir::new().unwrap();
    let verified = tahc_on_store(dir.path(), &pg.url, &["verify"]);
    assert_eq!(verified.status.code(), Some(1));
    assert!(
        text(&verified.stderr).contains("no tahc event log in the database"),
        "{}",
        text(&verified.stderr)
    );
    let events = tahc_on_store(dir.path(), &pg.url, &["events"]);
    assert!(events.status.success(), "{}", text(&events.stderr));
    assert!(text(&events.stderr).contains("no events yet"));
    for args in [
        &["rebuild"][..],
        &["replay", "--conversation", &Uuid::now_v7().to_string()],
        &["export", "--contact", &Uuid::now_v7().to_string()],
    ] {
        let refused = tahc_on_store(dir.path(), &pg.url, args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        assert!(
            text(&refused.stderr).contains("no tahc event log"),
            "{args:?}: {}",
            text(&refused.stderr)
        );
    }
    let tables: i64 = pg
        .database
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&pg.schema],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "a read-only command created tables");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created in the data directory"
    );
    pg.remove().await;
}
