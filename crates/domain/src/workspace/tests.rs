//! Every workspace rule, as given/when/then.

use tahc_events::{ConversationStatus, Trigger};

use super::*;
use crate::harness::given;

fn admin_id() -> Uuid {
    Uuid::from_u128(1)
}
fn agent_id() -> Uuid {
    Uuid::from_u128(2)
}

fn new_agent(agent_id: Uuid, email: &str, role: Role) -> NewAgent {
    NewAgent {
        agent_id,
        name: "Grace Hopper".into(),
        email: email.into(),
        role,
        key_hash: format!("hash-{agent_id}"),
    }
}

fn added(agent_id: Uuid, email: &str, role: Role) -> Event {
    AgentAdded {
        agent_id,
        name: "Grace Hopper".into(),
        email: email.into(),
        role,
        key_hash: format!("hash-{agent_id}"),
    }
    .into()
}

fn created() -> [Event; 2] {
    [
        WorkspaceCreated {
            name: "Acme".into(),
            ai_confidence_threshold: DEFAULT_AI_CONFIDENCE_THRESHOLD,
            ai_enabled: true,
        }
        .into(),
        added(admin_id(), "admin@acme.example", Role::Admin),
    ]
}

fn with(extra: impl IntoIterator<Item = Event>) -> Vec<Event> {
    created().into_iter().chain(extra).collect()
}

#[test]
fn a_workspace_is_created_with_ai_on_and_its_first_admin() {
    given::<Workspace>([])
        .when(Command::Create {
            name: " Acme ".into(),
            admin: new_agent(admin_id(), "Admin@Acme.example", Role::Agent),
        })
        .then(created());
    given::<Workspace>(created())
        .when(Command::Create {
            name: "Again".into(),
            admin: new_agent(admin_id(), "a@b.example", Role::Admin),
        })
        .then_err(DomainError::AlreadyExists { what: "workspace" });
}

#[test]
fn settings_change_within_bounds_and_only_when_different() {
    given::<Workspace>(created())
        .when(Command::ChangeSettings {
            ai_confidence_threshold: Some(1.2),
            ai_enabled: None,
        })
        .then_err(DomainError::invalid(
            "aiConfidenceThreshold",
            "must be between 0 and 1",
        ));
    given::<Workspace>(created())
        .when(Command::ChangeSettings {
            ai_confidence_threshold: Some(DEFAULT_AI_CONFIDENCE_THRESHOLD),
            ai_enabled: Some(true),
        })
        .then_nothing();
    let state = given::<Workspace>(created())
        .when(Command::ChangeSettings {
            ai_confidence_threshold: Some(0.8),
            ai_enabled: Some(false),
        })
        .then([WorkspaceSettingsChanged {
            ai_confidence_threshold: Some(0.8),
            ai_enabled: Some(false),
        }
        .into()]);
    assert!(!state.ai_enabled);
    assert_eq!(state.ai_confidence_threshold, 0.8);
}

#[test]
fn agents_need_a_name_and_a_unique_valid_email() {
    given::<Workspace>(created())
        .when(Command::AddAgent(new_agent(
            agent_id(),
            "grace@acme.example",
            Role::Agent,
        )))
        .then([added(agent_id(), "grace@acme.example", Role::Agent)]);
    given::<Workspace>(created())
        .when(Command::AddAgent(new_agent(
            agent_id(),
            "ADMIN@acme.example",
            Role::Agent,
        )))
        .then_err(DomainError::Taken { field: "email" });
    given::<Workspace>(created())
        .when(Command::AddAgent(new_agent(
            agent_id(),
            "nope",
            Role::Agent,
        )))
        .then_err(DomainError::invalid("email", "must contain @"));
    let mut nameless = new_agent(agent_id(), "g@acme.example", Role::Bot);
    nameless.name = " ".into();
    given::<Workspace>(created())
        .when(Command::AddAgent(nameless))
        .then_err(DomainError::invalid("name", "must not be empty"));
}

#[test]
fn a_deactivated_agents_email_can_be_given_to_someone_new() {
    given::<Workspace>(with([
        added(agent_id(), "grace@acme.example", Role::Agent),
        AgentDeactivated {
            agent_id: agent_id(),
        }
        .into(),
    ]))
    .when(Command::AddAgent(new_agent(
        Uuid::from_u128(3),
        "grace@acme.example",
        Role::Agent,
    )))
    .then([added(Uuid::from_u128(3), "grace@acme.example", Role::Agent)]);
}

#[test]
fn deactivation_keeps_the_last_admin_and_is_recorded_once() {
    given::<Workspace>(created())
        .when(Command::DeactivateAgent {
            agent_id: admin_id(),
        })
        .then_err(DomainError::InvalidTransition {
            action: "deactivate the agent",
            reason: "a workspace needs at least one active admin",
        });
    let team = with([added(agent_id(), "grace@acme.example", Role::Agent)]);
    let state = given::<Workspace>(team.clone())
        .when(Command::DeactivateAgent {
            agent_id: agent_id(),
        })
        .then([AgentDeactivated {
            agent_id: agent_id(),
        }
        .into()]);
    assert!(state.active_agent(agent_id()).is_none());
    given::<Workspace>(
        team.into_iter().chain([AgentDeactivated {
            agent_id: agent_id(),
        }
        .into()]),
    )
    .when(Command::DeactivateAgent {
        agent_id: agent_id(),
    })
    .then_nothing();
}

#[test]
fn keys_rotate_for_active_agents_only() {
    let state = given::<Workspace>(created())
        .when(Command::RotateKey {
            agent_id: admin_id(),
            key_hash: "new".into(),
        })
        .then([AgentKeyRotated {
            agent_id: admin_id(),
            key_hash: "new".into(),
        }
        .into()]);
    assert_eq!(state.agents[&admin_id()].key_hash, "new");
    given::<Workspace>(with([
        added(agent_id(), "grace@acme.example", Role::Agent),
        AgentDeactivated {
            agent_id: agent_id(),
        }
        .into(),
    ]))
    .when(Command::RotateKey {
        agent_id: agent_id(),
        key_hash: "new".into(),
    })
    .then_err(DomainError::NotFound { what: "agent" });
}

#[test]
fn custom_fields_have_a_slug_key_and_a_type_that_never_changes() {
    let define = |key: &str, label: &str, field_type| Command::DefineCustomField {
        key: key.into(),
        label: label.into(),
        field_type,
    };
    let defined: Event = CustomFieldDefined {
        key: "plan".into(),
        label: "Plan".into(),
        field_type: CustomFieldType::Text,
    }
    .into();
    given::<Workspace>(created())
        .when(define("plan", "Plan", CustomFieldType::Text))
        .then([defined.clone()]);
    for bad in ["", "Plan", "1plan", "plan-type", &"p".repeat(41)] {
        let err = Workspace::decide(
            &Workspace::replay(&created()),
            define(bad, "Plan", CustomFieldType::Text),
        )
        .unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { field: "key", .. }),
            "{bad:?}"
        );
    }
    given::<Workspace>(with([defined.clone()]))
        .when(define("plan", "Plan", CustomFieldType::Number))
        .then_err(DomainError::invalid(
            "type",
            "the type of a defined field cannot change",
        ));
    given::<Workspace>(with([defined.clone()]))
        .when(define("plan", "Plan", CustomFieldType::Text))
        .then_nothing();
    given::<Workspace>(with([defined]))
        .when(define("plan", "Subscription plan", CustomFieldType::Text))
        .then([CustomFieldDefined {
            key: "plan".into(),
            label: "Subscription plan".into(),
            field_type: CustomFieldType::Text,
        }
        .into()]);
}

fn rule(kind: ActionKind, agent_id: Option<Uuid>, keywords: &[&str]) -> RuleInput {
    RuleInput {
        name: "Escalate refunds".into(),
        enabled: true,
        condition: RuleCondition {
            trigger: Trigger::MessageReceived,
            unknown_visitor_only: false,
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
        },
        action: RuleAction {
            kind,
            agent_id,
            status: None,
            message: None,
        },
    }
}

fn save(rule_id: u128, create: bool, rule: RuleInput) -> Command {
    Command::SaveRule {
        rule_id: Uuid::from_u128(rule_id),
        create,
        rule,
    }
}

#[test]
fn rules_are_saved_with_normalised_keywords() {
    let events = given::<Workspace>(created())
        .when(save(
            10,
            true,
            rule(
                ActionKind::RequestHuman,
                None,
                &[" Refund ", "refund", "ANGRY"],
            ),
        ))
        .events();
    let [Event::RuleSaved(saved)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(saved.condition.keywords, ["refund", "angry"]);
}

#[test]
fn rule_actions_need_what_they_act_with() {
    given::<Workspace>(created())
        .when(save(10, true, rule(ActionKind::AssignTo, None, &[])))
        .then_err(DomainError::invalid(
            "action.agentId",
            "is required for AssignTo",
        ));
    given::<Workspace>(created())
        .when(save(
            10,
            true,
            rule(ActionKind::AssignTo, Some(Uuid::from_u128(99)), &[]),
        ))
        .then_err(DomainError::invalid(
            "action.agentId",
            "not an active agent of this workspace",
        ));
    given::<Workspace>(created())
        .when(save(10, true, rule(ActionKind::SetStatus, None, &[])))
        .then_err(DomainError::invalid(
            "action.status",
            "is required for SetStatus",
        ));
    given::<Workspace>(created())
        .when(save(10, true, rule(ActionKind::SendMessage, None, &[])))
        .then_err(DomainError::invalid(
            "action.message",
            "is required for SendMessage",
        ));
    let mut set_status = rule(ActionKind::SetStatus, None, &[]);
    set_status.action.status = Some(ConversationStatus::Pending);
    assert_eq!(
        given::<Workspace>(created())
            .when(save(10, true, set_status))
            .events()
            .len(),
        1
    );
    let too_many: Vec<String> = (0..=MAX_KEYWORDS).map(|i| format!("k{i}")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    given::<Workspace>(created())
        .when(save(
            10,
            true,
            rule(ActionKind::RequestHuman, None, &too_many),
        ))
        .then_err(DomainError::invalid(
            "condition.keywords",
            format!("at most {MAX_KEYWORDS} keywords"),
        ));
}

#[test]
fn updating_or_deleting_a_rule_needs_it_to_exist() {
    given::<Workspace>(created())
        .when(save(10, false, rule(ActionKind::RequestHuman, None, &[])))
        .then_err(DomainError::NotFound { what: "rule" });
    given::<Workspace>(created())
        .when(Command::DeleteRule {
            rule_id: Uuid::from_u128(10),
        })
        .then_err(DomainError::NotFound { what: "rule" });
    let saved = given::<Workspace>(created())
        .when(save(10, true, rule(ActionKind::RequestHuman, None, &[])))
        .events();
    given::<Workspace>(with(saved.clone()))
        .when(save(10, true, rule(ActionKind::RequestHuman, None, &[])))
        .then_err(DomainError::AlreadyExists { what: "rule" });
    given::<Workspace>(with(saved.clone()))
        .when(save(10, false, rule(ActionKind::RequestHuman, None, &[])))
        .then_nothing();
    let state = given::<Workspace>(with(saved))
        .when(Command::DeleteRule {
            rule_id: Uuid::from_u128(10),
        })
        .then([RuleDeleted {
            rule_id: Uuid::from_u128(10),
        }
        .into()]);
    assert!(state.rules.is_empty());
}
