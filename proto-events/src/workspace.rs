//! Payloads of the workspace stream: settings, team, fields and rules.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::vocabulary::{ActionKind, ConversationStatus, CustomFieldType, Role, Trigger};

/// A workspace came into being.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceCreated {
    /// Display name.
    pub name: String,
    /// AI replies below this confidence request a human (0..1).
    pub ai_confidence_threshold: f64,
    /// Whether new conversations start under AI control.
    pub ai_enabled: bool,
}

/// Workspace settings changed; absent fields kept their value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceSettingsChanged {
    /// New AI confidence threshold, if changed.
    pub ai_confidence_threshold: Option<f64>,
    /// New AI switch, if changed.
    pub ai_enabled: Option<bool>,
}

/// A team member joined. Team names and emails are workspace data, not the
/// personal data of a subject, so they are not sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentAdded {
    /// The new agent's id.
    pub agent_id: Uuid,
    /// Display name.
    pub name: String,
    /// Work email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Hash of the API key; the key itself is shown once and never stored.
    pub key_hash: String,
}

/// A team member was deactivated: their key stops working, history stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentDeactivated {
    /// The agent.
    pub agent_id: Uuid,
}

/// A team member's API key was replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentKeyRotated {
    /// The agent.
    pub agent_id: Uuid,
    /// Hash of the new key.
    pub key_hash: String,
}

/// A custom contact field was defined (or relabelled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldDefined {
    /// Stable key.
    pub key: String,
    /// What people see.
    pub label: String,
    /// The type its values must have.
    pub field_type: CustomFieldType,
}

/// When an orchestration rule fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCondition {
    /// The trigger.
    pub trigger: Trigger,
    /// Only while the visitor is not yet a known contact.
    pub unknown_visitor_only: bool,
    /// Only when the message contains one of these words (case-insensitive).
    pub keywords: Vec<String>,
}

/// What an orchestration rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleAction {
    /// The action.
    pub kind: ActionKind,
    /// For ASSIGN_TO.
    pub agent_id: Option<Uuid>,
    /// For SET_STATUS.
    pub status: Option<ConversationStatus>,
    /// For SEND_MESSAGE and ASK_FOR_EMAIL (the question asked).
    pub message: Option<String>,
}

/// An orchestration rule was created or replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSaved {
    /// The rule.
    pub rule_id: Uuid,
    /// Name.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// When it fires.
    pub condition: RuleCondition,
    /// What it does.
    pub action: RuleAction,
}

/// An orchestration rule was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleDeleted {
    /// The rule.
    pub rule_id: Uuid,
}
