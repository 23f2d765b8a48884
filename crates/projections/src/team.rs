//! The team view: workspaces with their settings, agents, custom field
//! definitions and rules, and the index that authenticates API keys.
//!
//! | key | value |
//! |---|---|
//! | `w` workspace | [`WorkspaceRecord`] (JSON) |
//! | `k` key hash | [`KeyOwner`] (JSON): whose key it is |

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tahc_events::{
    CustomFieldType, Event, Position, RecordedEvent, Role, RuleAction, RuleCondition,
    StreamCategory,
};
use uuid::Uuid;

use crate::conversations::read;
use crate::projection::Projector;
use crate::view::{View, ViewChanges, ViewError, json};

/// A team member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The agent.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Work email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Deactivated agents keep their history.
    pub active: bool,
    /// When they joined.
    pub added_at: DateTime<Utc>,
    /// Hash of their current key (never shown; the index below uses it).
    pub key_hash: String,
}

/// A custom contact field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldRecord {
    /// Stable key.
    pub key: String,
    /// What people see.
    pub label: String,
    /// Its type.
    pub field_type: CustomFieldType,
}

/// An orchestration rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// The rule.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// When it fires.
    pub condition: RuleCondition,
    /// What it does.
    pub action: RuleAction,
}

/// A workspace as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceRecord {
    /// The workspace.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// AI answers below it ask for a human.
    pub ai_confidence_threshold: f64,
    /// New conversations start under AI control.
    pub ai_enabled: bool,
    /// The team, by id (ordered, so the record's bytes are deterministic).
    pub agents: BTreeMap<Uuid, AgentRecord>,
    /// Custom fields, by key.
    pub custom_fields: BTreeMap<String, FieldRecord>,
    /// Rules, by id.
    pub rules: BTreeMap<Uuid, RuleRecord>,
    /// The last change.
    pub position: Position,
}

/// Whose API key a hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyOwner {
    /// The workspace.
    pub workspace_id: Uuid,
    /// The agent.
    pub agent_id: Uuid,
}

fn workspace_key(id: Uuid) -> Vec<u8> {
    [&b"w"[..], id.as_bytes()].concat()
}

fn key_hash_key(hash: &str) -> Vec<u8> {
    [&b"k"[..], hash.as_bytes()].concat()
}

/// Builds the team view.
pub struct TeamProjector;

impl Projector for TeamProjector {
    const NAME: &'static str = "team";

    fn apply(
        &self,
        record: &RecordedEvent,
        event: &Event,
        view: &View,
        changes: &mut ViewChanges,
    ) -> Result<(), ViewError> {
        let Some((StreamCategory::Workspace, id)) = record.stream_id.parse() else {
            return Ok(());
        };
        let existing: Option<WorkspaceRecord> = read(view, &workspace_key(id))?;
        let mut workspace = match (event, existing) {
            (Event::WorkspaceCreated(created), None) => WorkspaceRecord {
                id,
                name: created.name.clone(),
                ai_confidence_threshold: created.ai_confidence_threshold,
                ai_enabled: created.ai_enabled,
                agents: BTreeMap::new(),
                custom_fields: BTreeMap::new(),
                rules: BTreeMap::new(),
                position: record.position,
            },
            (_, Some(existing)) => existing,
            (_, None) => return Ok(()),
        };
        match event {
            Event::WorkspaceSettingsChanged(e) => {
                if let Some(t) = e.ai_confidence_threshold {
                    workspace.ai_confidence_threshold = t;
                }
                if let Some(enabled) = e.ai_enabled {
                    workspace.ai_enabled = enabled;
                }
            }
            Event::AgentAdded(e) => {
                workspace.agents.insert(
                    e.agent_id,
                    AgentRecord {
                        id: e.agent_id,
                        name: e.name.clone(),
                        email: e.email.clone(),
                        role: e.role,
                        active: true,
                        added_at: record.occurred_at,
                        key_hash: e.key_hash.clone(),
                    },
                );
                let owner = KeyOwner {
                    workspace_id: id,
                    agent_id: e.agent_id,
                };
                changes.put(key_hash_key(&e.key_hash), json(&owner)?);
            }
            Event::AgentDeactivated(e) => {
                if let Some(agent) = workspace.agents.get_mut(&e.agent_id) {
                    agent.active = false;
                    changes.delete(key_hash_key(&agent.key_hash));
                }
            }
            Event::AgentKeyRotated(e) => {
                if let Some(agent) = workspace.agents.get_mut(&e.agent_id) {
                    changes.delete(key_hash_key(&agent.key_hash));
                    agent.key_hash.clone_from(&e.key_hash);
                    let owner = KeyOwner {
                        workspace_id: id,
                        agent_id: e.agent_id,
                    };
                    changes.put(key_hash_key(&e.key_hash), json(&owner)?);
                }
            }
            Event::CustomFieldDefined(e) => {
                workspace.custom_fields.insert(
                    e.key.clone(),
                    FieldRecord {
                        key: e.key.clone(),
                        label: e.label.clone(),
                        field_type: e.field_type,
                    },
                );
            }
            Event::RuleSaved(e) => {
                workspace.rules.insert(
                    e.rule_id,
                    RuleRecord {
                        id: e.rule_id,
                        name: e.name.clone(),
                        enabled: e.enabled,
                        condition: e.condition.clone(),
                        action: e.action.clone(),
                    },
                );
            }
            Event::RuleDeleted(e) => {
                workspace.rules.remove(&e.rule_id);
            }
            _ => {}
        }
        workspace.position = record.position;
        changes.put(workspace_key(id), json(&workspace)?);
        Ok(())
    }
}

/// Reads the team view.
#[derive(Clone)]
pub struct Team {
    view: View,
}

impl Team {
    /// Over the team view.
    #[must_use]
    pub fn new(view: View) -> Self {
        Team { view }
    }

    /// A workspace.
    pub fn workspace(&self, id: Uuid) -> Result<Option<WorkspaceRecord>, ViewError> {
        read(&self.view, &workspace_key(id))
    }

    /// The active agent whose current key hashes to `key_hash`, with their
    /// workspace. Rotated keys and deactivated agents' keys are gone from the
    /// index, so they no longer authenticate.
    pub fn authenticate(&self, key_hash: &str) -> Result<Option<(Uuid, AgentRecord)>, ViewError> {
        let Some(owner) = read::<KeyOwner>(&self.view, &key_hash_key(key_hash))? else {
            return Ok(None);
        };
        let Some(workspace) = self.workspace(owner.workspace_id)? else {
            return Ok(None);
        };
        Ok(workspace
            .agents
            .get(&owner.agent_id)
            .filter(|agent| agent.active && agent.key_hash == key_hash)
            .map(|agent| (owner.workspace_id, agent.clone())))
    }
}
