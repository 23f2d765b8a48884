//! A workspace: its AI settings, its team and their keys, the custom fields
//! its contacts may carry, and its orchestration rules.

use std::collections::HashMap;

use tahc_events::{
    ActionKind, AgentAdded, AgentDeactivated, AgentKeyRotated, CustomFieldDefined, CustomFieldType,
    Event, Role, RuleAction, RuleCondition, RuleDeleted, RuleSaved, WorkspaceCreated,
    WorkspaceSettingsChanged,
};
use uuid::Uuid;

use crate::visitor::MAX_NAME_CHARS;
use crate::{Aggregate, DomainError, Email, text};

/// Threshold of a new workspace: AI answers below it ask for a human.
pub const DEFAULT_AI_CONFIDENCE_THRESHOLD: f64 = 0.6;
/// Longest label, rule name or workspace name, in characters.
pub const MAX_LABEL_CHARS: usize = 100;
/// Most keywords one rule may list.
pub const MAX_KEYWORDS: usize = 20;
/// Longest keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 50;
/// Longest message a rule may send, in characters.
pub const MAX_RULE_MESSAGE_CHARS: usize = 2_000;

/// The workspace aggregate.
pub struct Workspace;

/// A team member as the workspace knows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// Display name.
    pub name: String,
    /// Work email (normal form).
    pub email: String,
    /// Role.
    pub role: Role,
    /// Deactivated agents keep their history but lose their key.
    pub active: bool,
    /// Hash of their current API key.
    pub key_hash: String,
}

/// A rule as saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Name.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// When it fires.
    pub condition: RuleCondition,
    /// What it does.
    pub action: RuleAction,
}

/// What a workspace remembers.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceState {
    /// Whether it exists.
    pub exists: bool,
    /// Display name.
    pub name: String,
    /// AI answers below this confidence ask for a human.
    pub ai_confidence_threshold: f64,
    /// New conversations start under AI control.
    pub ai_enabled: bool,
    /// The team, by agent id.
    pub agents: HashMap<Uuid, Agent>,
    /// Custom contact fields, by key.
    pub custom_fields: HashMap<String, (String, CustomFieldType)>,
    /// Orchestration rules, by id.
    pub rules: HashMap<Uuid, Rule>,
}

impl Default for WorkspaceState {
    fn default() -> Self {
        WorkspaceState {
            exists: false,
            name: String::new(),
            ai_confidence_threshold: DEFAULT_AI_CONFIDENCE_THRESHOLD,
            ai_enabled: true,
            agents: HashMap::new(),
            custom_fields: HashMap::new(),
            rules: HashMap::new(),
        }
    }
}

impl WorkspaceState {
    /// The agent, if they are an active member of the team.
    #[must_use]
    pub fn active_agent(&self, agent_id: Uuid) -> Option<&Agent> {
        self.agents.get(&agent_id).filter(|agent| agent.active)
    }

    /// The type of a defined custom field.
    #[must_use]
    pub fn field_type(&self, key: &str) -> Option<CustomFieldType> {
        self.custom_fields
            .get(key)
            .map(|(_, field_type)| *field_type)
    }

    fn active_admins(&self) -> usize {
        self.agents
            .values()
            .filter(|a| a.active && a.role == Role::Admin)
            .count()
    }
}

/// A team member to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAgent {
    /// Their id.
    pub agent_id: Uuid,
    /// Display name.
    pub name: String,
    /// Work email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Hash of the key handed to them once.
    pub key_hash: String,
}

/// A rule to save.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleInput {
    /// Name.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// When it fires.
    pub condition: RuleCondition,
    /// What it does.
    pub action: RuleAction,
}

/// What can be asked of a workspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create the workspace with its first admin.
    Create {
        /// Display name.
        name: String,
        /// The first admin (role forced to ADMIN).
        admin: NewAgent,
    },
    /// Change AI settings; `None` keeps a value.
    ChangeSettings {
        /// New threshold (0..1).
        ai_confidence_threshold: Option<f64>,
        /// New AI switch.
        ai_enabled: Option<bool>,
    },
    /// Add a team member.
    AddAgent(NewAgent),
    /// Deactivate a team member.
    DeactivateAgent {
        /// The agent.
        agent_id: Uuid,
    },
    /// Replace a team member's key.
    RotateKey {
        /// The agent.
        agent_id: Uuid,
        /// Hash of the new key.
        key_hash: String,
    },
    /// Define (or relabel) a custom contact field.
    DefineCustomField {
        /// Stable key, `[a-z][a-z0-9_]*`.
        key: String,
        /// What people see.
        label: String,
        /// The type its values must have.
        field_type: CustomFieldType,
    },
    /// Create or replace an orchestration rule.
    SaveRule {
        /// The rule to replace, or the id of a new one.
        rule_id: Uuid,
        /// Whether the rule must be new.
        create: bool,
        /// Its content.
        rule: RuleInput,
    },
    /// Delete an orchestration rule.
    DeleteRule {
        /// The rule.
        rule_id: Uuid,
    },
}

impl Aggregate for Workspace {
    type State = WorkspaceState;
    type Command = Command;

    fn decide(state: &WorkspaceState, command: Command) -> Result<Vec<Event>, DomainError> {
        if let Command::Create { name, admin } = command {
            if state.exists {
                return Err(DomainError::AlreadyExists { what: "workspace" });
            }
            let admin = NewAgent {
                role: Role::Admin,
                ..admin
            };
            return Ok(vec![
                WorkspaceCreated {
                    name: text::required_line(name, "name", MAX_LABEL_CHARS)?,
                    ai_confidence_threshold: DEFAULT_AI_CONFIDENCE_THRESHOLD,
                    ai_enabled: true,
                }
                .into(),
                add_agent(state, admin)?,
            ]);
        }
        if !state.exists {
            return Err(DomainError::NotFound { what: "workspace" });
        }
        match command {
            Command::Create { .. } => unreachable!("handled above"),
            Command::ChangeSettings {
                ai_confidence_threshold,
                ai_enabled,
            } => change_settings(state, ai_confidence_threshold, ai_enabled),
            Command::AddAgent(agent) => Ok(vec![add_agent(state, agent)?]),
            Command::DeactivateAgent { agent_id } => deactivate(state, agent_id),
            Command::RotateKey { agent_id, key_hash } => {
                state
                    .active_agent(agent_id)
                    .ok_or(DomainError::NotFound { what: "agent" })?;
                Ok(vec![AgentKeyRotated { agent_id, key_hash }.into()])
            }
            Command::DefineCustomField {
                key,
                label,
                field_type,
            } => define_field(state, key, label, field_type),
            Command::SaveRule {
                rule_id,
                create,
                rule,
            } => save_rule(state, rule_id, create, rule),
            Command::DeleteRule { rule_id } => {
                if !state.rules.contains_key(&rule_id) {
                    return Err(DomainError::NotFound { what: "rule" });
                }
                Ok(vec![RuleDeleted { rule_id }.into()])
            }
        }
    }

    fn evolve(mut state: WorkspaceState, event: &Event) -> WorkspaceState {
        match event {
            Event::WorkspaceCreated(e) => {
                state.exists = true;
                state.name.clone_from(&e.name);
                state.ai_confidence_threshold = e.ai_confidence_threshold;
                state.ai_enabled = e.ai_enabled;
            }
            Event::WorkspaceSettingsChanged(e) => {
                if let Some(threshold) = e.ai_confidence_threshold {
                    state.ai_confidence_threshold = threshold;
                }
                if let Some(enabled) = e.ai_enabled {
                    state.ai_enabled = enabled;
                }
            }
            Event::AgentAdded(e) => {
                state.agents.insert(
                    e.agent_id,
                    Agent {
                        name: e.name.clone(),
                        email: e.email.clone(),
                        role: e.role,
                        active: true,
                        key_hash: e.key_hash.clone(),
                    },
                );
            }
            Event::AgentDeactivated(e) => {
                if let Some(agent) = state.agents.get_mut(&e.agent_id) {
                    agent.active = false;
                }
            }
            Event::AgentKeyRotated(e) => {
                if let Some(agent) = state.agents.get_mut(&e.agent_id) {
                    agent.key_hash.clone_from(&e.key_hash);
                }
            }
            Event::CustomFieldDefined(e) => {
                state
                    .custom_fields
                    .insert(e.key.clone(), (e.label.clone(), e.field_type));
            }
            Event::RuleSaved(e) => {
                state.rules.insert(
                    e.rule_id,
                    Rule {
                        name: e.name.clone(),
                        enabled: e.enabled,
                        condition: e.condition.clone(),
                        action: e.action.clone(),
                    },
                );
            }
            Event::RuleDeleted(e) => {
                state.rules.remove(&e.rule_id);
            }
            _ => {}
        }
        state
    }
}

fn change_settings(
    state: &WorkspaceState,
    threshold: Option<f64>,
    enabled: Option<bool>,
) -> Result<Vec<Event>, DomainError> {
    if let Some(t) = threshold
        && !(0.0..=1.0).contains(&t)
    {
        return Err(DomainError::invalid(
            "aiConfidenceThreshold",
            "must be between 0 and 1",
        ));
    }
    let threshold = threshold.filter(|t| *t != state.ai_confidence_threshold);
    let enabled = enabled.filter(|e| *e != state.ai_enabled);
    if threshold.is_none() && enabled.is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![
        WorkspaceSettingsChanged {
            ai_confidence_threshold: threshold,
            ai_enabled: enabled,
        }
        .into(),
    ])
}

fn add_agent(state: &WorkspaceState, agent: NewAgent) -> Result<Event, DomainError> {
    if state.agents.contains_key(&agent.agent_id) {
        return Err(DomainError::AlreadyExists { what: "agent" });
    }
    let name = text::required_line(agent.name, "name", MAX_NAME_CHARS)?;
    let email = Email::parse(&agent.email, "email")?;
    if state
        .agents
        .values()
        .any(|a| a.active && a.email == email.as_str())
    {
        return Err(DomainError::Taken { field: "email" });
    }
    Ok(AgentAdded {
        agent_id: agent.agent_id,
        name,
        email: email.to_string(),
        role: agent.role,
        key_hash: agent.key_hash,
    }
    .into())
}

fn deactivate(state: &WorkspaceState, agent_id: Uuid) -> Result<Vec<Event>, DomainError> {
    let agent = state
        .agents
        .get(&agent_id)
        .ok_or(DomainError::NotFound { what: "agent" })?;
    if !agent.active {
        return Ok(Vec::new());
    }
    if agent.role == Role::Admin && state.active_admins() == 1 {
        return Err(DomainError::InvalidTransition {
            action: "deactivate the agent",
            reason: "a workspace needs at least one active admin",
        });
    }
    Ok(vec![AgentDeactivated { agent_id }.into()])
}

fn define_field(
    state: &WorkspaceState,
    key: String,
    label: String,
    field_type: CustomFieldType,
) -> Result<Vec<Event>, DomainError> {
    let valid_key = key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_key {
        return Err(DomainError::invalid(
            "key",
            "must be 1 to 40 of a-z, 0-9 and _, starting with a letter",
        ));
    }
    let label = text::required_line(label, "label", MAX_LABEL_CHARS)?;
    match state.custom_fields.get(&key) {
        Some((_, existing)) if *existing != field_type => Err(DomainError::invalid(
            "type",
            "the type of a defined field cannot change",
        )),
        Some((existing, _)) if *existing == label => Ok(Vec::new()),
        _ => Ok(vec![
            CustomFieldDefined {
                key,
                label,
                field_type,
            }
            .into(),
        ]),
    }
}

fn save_rule(
    state: &WorkspaceState,
    rule_id: Uuid,
    create: bool,
    rule: RuleInput,
) -> Result<Vec<Event>, DomainError> {
    let existing = state.rules.get(&rule_id);
    match (create, existing) {
        (true, Some(_)) => return Err(DomainError::AlreadyExists { what: "rule" }),
        (false, None) => return Err(DomainError::NotFound { what: "rule" }),
        _ => {}
    }
    let name = text::required_line(rule.name, "name", MAX_LABEL_CHARS)?;
    let condition = checked_condition(rule.condition)?;
    let action = checked_action(state, rule.action)?;
    let saved = Rule {
        name,
        enabled: rule.enabled,
        condition,
        action,
    };
    if existing == Some(&saved) {
        return Ok(Vec::new());
    }
    Ok(vec![
        RuleSaved {
            rule_id,
            name: saved.name,
            enabled: saved.enabled,
            condition: saved.condition,
            action: saved.action,
        }
        .into(),
    ])
}

fn checked_condition(condition: RuleCondition) -> Result<RuleCondition, DomainError> {
    if condition.keywords.len() > MAX_KEYWORDS {
        return Err(DomainError::invalid(
            "condition.keywords",
            format!("at most {MAX_KEYWORDS} keywords"),
        ));
    }
    let mut keywords = Vec::with_capacity(condition.keywords.len());
    for keyword in condition.keywords {
        let keyword = text::required_line(keyword, "condition.keywords", MAX_KEYWORD_CHARS)?;
        let keyword = keyword.to_lowercase();
        if !keywords.contains(&keyword) {
            keywords.push(keyword);
        }
    }
    Ok(RuleCondition {
        keywords,
        ..condition
    })
}

fn checked_action(state: &WorkspaceState, action: RuleAction) -> Result<RuleAction, DomainError> {
    let message = text::optional(action.message, "action.message", MAX_RULE_MESSAGE_CHARS)?;
    let missing = |field| DomainError::invalid(field, format!("is required for {:?}", action.kind));
    match action.kind {
        ActionKind::AssignTo => {
            let agent_id = action.agent_id.ok_or_else(|| missing("action.agentId"))?;
            if state.active_agent(agent_id).is_none() {
                return Err(DomainError::invalid(
                    "action.agentId",
                    "not an active agent of this workspace",
                ));
            }
        }
        ActionKind::SetStatus if action.status.is_none() => return Err(missing("action.status")),
        ActionKind::SendMessage if message.is_none() => return Err(missing("action.message")),
        _ => {}
    }
    Ok(RuleAction { message, ..action })
}

#[cfg(test)]
mod tests;
