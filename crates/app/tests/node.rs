//! A whole node over a data directory: views and process managers follow
//! the log live, and a restart resumes where it stood.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use tahc_app::{Node, SystemClock};
use tahc_domain::workspace::RuleInput;
use tahc_events::{ActionKind, AuthorKind, RuleAction, RuleCondition, Trigger};
use tahc_projections::Window;
use tempfile::TempDir;

const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_follows_the_log_live_and_resumes_after_a_restart() {
    let dir = TempDir::new().unwrap();
    let node = Node::start(dir.path(), Arc::new(SystemClock))
        .await
        .unwrap();
    let c = &node.commands;
    let created = c
        .create_workspace("Acme".into(), "Ada".into(), "ada@acme.example".into(), None)
        .await
        .unwrap();
    c.save_rule(
        &created.admin,
        None,
        RuleInput {
            name: "Ask".into(),
            enabled: true,
            condition: RuleCondition {
                trigger: Trigger::ConversationStarted,
                unknown_visitor_only: true,
                keywords: vec![],
            },
            action: RuleAction {
                kind: ActionKind::AskForEmail,
                agent_id: None,
                status: None,
                message: Some("Your email?".into()),
            },
        },
    )
    .await
    .unwrap();
    let visitor = c.new_visitor(created.workspace_id).await.unwrap();
    let (id, started) = c
        .start_conversation(&visitor, None, "Hello".into())
        .await
        .unwrap();
    assert!(
        node.wait_for(started.appended.unwrap().last_position, PATIENCE)
            .await
    );
    assert!(
        node.team()
            .workspace(created.workspace_id)
            .unwrap()
            .is_some()
    );

    // The orchestration rule answers live, and the view shows its question.
    let mut asked = false;
    for _ in 0..100 {
        let page = node
            .conversations()
            .messages(id, true, &Window::default())
            .unwrap();
        if page
            .items
            .iter()
            .any(|(_, m)| m.author_kind == AuthorKind::System)
        {
            asked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(asked, "the rule's question never appeared");
    let key_path = dir.path().join("email.key");
    assert_eq!(
        std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let key = std::fs::read(&key_path).unwrap();
    node.shutdown().await;

    let node = Node::start(dir.path(), Arc::new(SystemClock))
        .await
        .unwrap();
    assert!(node.ready().await, "views caught up at start");
    assert_eq!(
        std::fs::read(&key_path).unwrap(),
        key,
        "the email key is kept"
    );
    let record = node.conversations().get(id).unwrap().unwrap();
    assert_eq!(record.public_message_count, 2);
    // Identification still finds the same contact: the claim key survived.
    let first = node
        .commands
        .identify_visitor(&visitor, None, "zoe@example.com".into(), None)
        .await
        .unwrap()
        .linked()
        .unwrap();
    let other = node
        .commands
        .new_visitor(created.workspace_id)
        .await
        .unwrap();
    let second = node
        .commands
        .identify_visitor(&other, None, "zoe@example.com".into(), None)
        .await
        .unwrap();
    assert_eq!(second, tahc_app::Identified::Claimed { contact_id: first });
    node.shutdown().await;
}
