//! The permission matrix: every command, tried by every role, by the
//! visitor, and by an admin of another workspace, gets exactly the outcome
//! the table promises: FORBIDDEN for roles without the right, NOT_FOUND
//! across workspaces (never a hint that the target exists), and otherwise
//! the command's own outcome.

mod support;

use std::future::Future;
use std::pin::Pin;

use serde_json::json;
use tahc_app::{Action, AppError, ContactNoteRef, Principal, SendMessage, allows};
use tahc_domain::DomainError;
use tahc_domain::workspace::RuleInput;
use tahc_events::{
    ActionKind, ConversationStatus, CustomFieldType, HandoffReason, Role, RuleAction,
    RuleCondition, Trigger,
};
use uuid::Uuid;

use support::{World, other_workspace};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ran,
    Forbidden,
    NotFound,
}

fn classify(result: Result<(), AppError>) -> Outcome {
    match result {
        Err(AppError::Forbidden { .. }) => Outcome::Forbidden,
        Err(AppError::NotFound { .. } | AppError::Domain(DomainError::NotFound { .. })) => {
            Outcome::NotFound
        }
        // Accepted, or refused by a domain rule: either way the caller was
        // allowed to ask.
        Ok(()) | Err(AppError::Domain(_)) => Outcome::Ran,
        Err(other) => panic!("unexpected failure: {other}"),
    }
}

type Run<'a> =
    Box<dyn Fn(Principal) -> Pin<Box<dyn Future<Output = Result<(), AppError>> + 'a>> + 'a>;

/// One way to exercise each action against the world's targets.
fn runner<'a>(world: &'a World, action: Action) -> Option<Run<'a>> {
    let c = &world.commands;
    let conversation = world.conversation_id;
    let visitor = world.visitor_id;
    let contact = world.contact_id;
    let agent_id = world.team.agent.agent_id().unwrap();
    macro_rules! run {
        (|$p:ident| $body:expr) => {
            Some(Box::new(move |$p: Principal| {
                Box::pin(async move { $body.map(|_| ()) })
            }))
        };
    }
    match action {
        Action::StartConversation => {
            run!(|p| c.start_conversation(&p, Some(visitor), "Hi".into()).await)
        }
        Action::SendMessage => run!(|p| c
            .send_message(
                &p,
                SendMessage {
                    conversation_id: conversation,
                    body: "hello".into(),
                    internal: false,
                    confidence: None,
                    idempotency_key: None,
                }
            )
            .await),
        Action::RequestHuman => {
            run!(|p| c
                .request_human(&p, conversation, HandoffReason::CustomerRequest)
                .await)
        }
        Action::TakeOver => run!(|p| c.take_over(&p, conversation).await),
        Action::ReturnToAi => run!(|p| c.return_to_ai(&p, conversation).await),
        Action::AssignConversation => run!(|p| c.assign(&p, conversation, Some(agent_id)).await),
        Action::SetConversationStatus => {
            run!(|p| c
                .set_status(&p, conversation, ConversationStatus::Pending)
                .await)
        }
        Action::SnoozeConversation => run!(|p| c
            .snooze(
                &p,
                conversation,
                chrono::Utc::now() + chrono::Duration::days(400)
            )
            .await),
        Action::BlockVisitor => run!(|p| c.unblock_visitor(&p, visitor).await),
        Action::ManageContactNotes => run!(|p| c.add_note(&p, contact, "note".into()).await),
        Action::SetContactCustomField => {
            run!(|p| c
                .set_custom_field(&p, contact, "plan".into(), json!(null))
                .await)
        }
        Action::ManageTeam => run!(|p| c.rotate_key(&p, agent_id).await),
        Action::DefineCustomField => run!(|p| c
            .define_custom_field(&p, "plan".into(), "Plan".into(), CustomFieldType::Text)
            .await),
        Action::ManageRules => run!(|p| c
            .save_rule(
                &p,
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
                        message: None,
                    },
                }
            )
            .await),
        Action::UpdateWorkspaceSettings => run!(|p| c.update_settings(&p, Some(0.7), None).await),
        Action::IdentifyVisitor => run!(|p| c
            .identify_visitor(&p, Some(visitor), "grace@example.com".into(), None)
            .await),
        Action::UpdateContact => run!(|p| c
            .update_contact(&p, contact, Some("Grace H.".into()), None)
            .await),
        // Last in `Action::ALL`, so erasing the real contact disturbs no other case.
        Action::EraseContact => run!(|p| c.erase_contact(&p, contact).await),
        // Ephemeral, never written: checked by the table test below.
        Action::ReportActivity => None,
    }
}

/// Actions whose target is the caller's own workspace, not a resource that
/// could belong to another one.
fn workspace_scoped(action: Action) -> bool {
    matches!(
        action,
        Action::DefineCustomField | Action::ManageRules | Action::UpdateWorkspaceSettings
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_gives_each_caller_exactly_the_outcome_the_table_promises() {
    let world = World::new().await;
    let stranger = other_workspace(&world.commands).await;
    let callers = [
        ("admin", world.team.admin),
        ("agent", world.team.agent),
        ("bot", world.team.bot),
        ("auditor", world.team.auditor),
        ("visitor", world.visitor),
    ];
    let mut checked = 0;
    for action in Action::ALL {
        let Some(run) = runner(&world, action) else {
            continue;
        };
        for (name, caller) in callers {
            let expected = if allows(&caller, action) {
                Outcome::Ran
            } else {
                Outcome::Forbidden
            };
            let outcome = classify(run(caller).await);
            assert_eq!(outcome, expected, "{name} × {action:?}");
            checked += 1;
        }
        if !workspace_scoped(action) {
            let outcome = classify(run(stranger).await);
            let expected = if allows(&stranger, action) {
                Outcome::NotFound
            } else {
                Outcome::Forbidden
            };
            assert_eq!(outcome, expected, "other workspace's admin × {action:?}");
        }
    }
    assert!(checked >= 90, "only {checked} cases ran");
}

#[test]
fn the_table_gives_auditors_nothing_and_admins_everything() {
    let workspace = Uuid::now_v7();
    let auditor = Principal::team(workspace, Uuid::now_v7(), Role::Auditor);
    let admin = Principal::team(workspace, Uuid::now_v7(), Role::Admin);
    let visitor = Principal::visitor(workspace, Uuid::now_v7());
    for action in Action::ALL {
        assert!(!allows(&auditor, action), "auditor may {action:?}");
        assert!(allows(&admin, action), "admin may not {action:?}");
    }
    let visitor_may: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| allows(&visitor, *a))
        .collect();
    assert_eq!(
        visitor_may,
        [
            Action::StartConversation,
            Action::SendMessage,
            Action::RequestHuman,
            Action::IdentifyVisitor
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_commands_of_another_admin_leave_this_workspace_untouched() {
    let world = World::new().await;
    let stranger = other_workspace(&world.commands).await;
    let before = world.log.verify().await.unwrap().checked;
    let theirs = world
        .commands
        .update_settings(&stranger, Some(0.1), Some(false))
        .await
        .unwrap();
    assert_eq!(theirs.state.ai_confidence_threshold, 0.1);
    let ours = world
        .commands
        .update_settings(&world.team.admin, None, None)
        .await
        .unwrap();
    assert_eq!(ours.state.ai_confidence_threshold, 0.6);
    assert!(ours.state.ai_enabled);
    assert_eq!(world.log.verify().await.unwrap().checked, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_cannot_touch_another_visitors_conversation() {
    let world = World::new().await;
    let other = world
        .commands
        .new_visitor(world.workspace_id)
        .await
        .unwrap();
    let err = world
        .commands
        .send_message(
            &other,
            SendMessage {
                conversation_id: world.conversation_id,
                body: "hijack".into(),
                internal: false,
                confidence: None,
                idempotency_key: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::NotFound {
                what: "conversation"
            }
        ),
        "{err}"
    );
    let err = world
        .commands
        .request_human(
            &other,
            world.conversation_id,
            HandoffReason::CustomerRequest,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }), "{err}");
    let _ = ContactNoteRef {
        contact_id: world.contact_id,
        note_id: Uuid::nil(),
    };
}
