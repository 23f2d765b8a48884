//! Workspace commands: creation, settings, the team and its keys, custom
//! fields, orchestration rules.

use tahc_domain::DomainError;
use tahc_domain::workspace::{Command, NewAgent, RuleInput, Workspace, WorkspaceState};
use tahc_events::{Actor, CustomFieldType, EventMeta, Role, StreamCategory};
use tahc_store::Appended;
use uuid::Uuid;

use super::{Commands, stream};
use crate::aggregates::{Context, EventIds, Executed};
use crate::api_key;
use crate::error::AppError;
use crate::permission::Action;
use crate::principal::Principal;

/// The id of the workspace `tahc serve` creates on the first start of an
/// installation: the same on every node of a shared log.
pub const DEFAULT_WORKSPACE: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);

/// A new workspace and its first admin.
#[derive(Debug, Clone)]
pub struct CreatedWorkspace {
    /// The workspace.
    pub workspace_id: Uuid,
    /// Its admin.
    pub admin: Principal,
    /// The admin's key, shown once.
    pub api_key: String,
}

/// A team member and their new key.
#[derive(Debug, Clone)]
pub struct IssuedAgent {
    /// The agent.
    pub agent_id: Uuid,
    /// The key, shown once and never again.
    pub api_key: String,
    /// The workspace after the change.
    pub workspace: WorkspaceState,
    /// Where the change landed.
    pub appended: Option<Appended>,
}

impl Commands {
    /// Creates a workspace with its first admin. `admin_key` is an operator's
    /// chosen key (`TAHC_BOOTSTRAP_ADMIN_KEY`); otherwise one is generated.
    pub async fn create_workspace(
        &self,
        name: String,
        admin_name: String,
        admin_email: String,
        admin_key: Option<String>,
    ) -> Result<CreatedWorkspace, AppError> {
        self.create_workspace_as(Uuid::now_v7(), name, admin_name, admin_email, admin_key)
            .await
    }

    /// Creates the default workspace of a new installation, unless it exists
    /// already (`None`): nodes of a shared log starting together on an
    /// empty database create it once, and only the node that did shows its
    /// admin key.
    pub async fn create_default_workspace(
        &self,
        admin_key: Option<String>,
    ) -> Result<Option<CreatedWorkspace>, AppError> {
        match self
            .create_workspace_as(
                DEFAULT_WORKSPACE,
                "Default workspace".into(),
                "Admin".into(),
                "admin@tahc.local".into(),
                admin_key,
            )
            .await
        {
            Ok(created) => Ok(Some(created)),
            Err(AppError::Domain(DomainError::AlreadyExists { .. })) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn create_workspace_as(
        &self,
        workspace_id: Uuid,
        name: String,
        admin_name: String,
        admin_email: String,
        admin_key: Option<String>,
    ) -> Result<CreatedWorkspace, AppError> {
        let agent_id = Uuid::now_v7();
        let (key, key_hash) = match admin_key {
            Some(key) => {
                api_key::check_chosen(&key)
                    .map_err(|weak| DomainError::invalid("adminKey", weak.to_string()))?;
                let hash = self.keys.hash(&key);
                (key, hash)
            }
            None => {
                let issued = self.keys.issue();
                (issued.key, issued.hash)
            }
        };
        let context = Context {
            meta: EventMeta {
                actor: Actor::system(),
                workspace_id,
                occurred_at: self.clock.now(),
                correlation_id: Some(Uuid::now_v7()),
                causation_id: None,
            },
            ids: EventIds::Fresh,
        };
        self.aggregates
            .execute::<Workspace>(
                &stream(StreamCategory::Workspace, workspace_id),
                &context,
                |_| {
                    Ok(Command::Create {
                        name: name.clone(),
                        admin: NewAgent {
                            agent_id,
                            name: admin_name.clone(),
                            email: admin_email.clone(),
                            role: Role::Admin,
                            key_hash: key_hash.clone(),
                        },
                    })
                },
            )
            .await?;
        Ok(CreatedWorkspace {
            workspace_id,
            admin: Principal::team(workspace_id, agent_id, Role::Admin),
            api_key: key,
        })
    }

    /// Changes the AI settings.
    pub async fn update_settings(
        &self,
        principal: &Principal,
        ai_confidence_threshold: Option<f64>,
        ai_enabled: Option<bool>,
    ) -> Result<Executed<WorkspaceState>, AppError> {
        self.on_workspace(
            principal,
            Action::UpdateWorkspaceSettings,
            Command::ChangeSettings {
                ai_confidence_threshold,
                ai_enabled,
            },
        )
        .await
    }

    /// Adds a team member and issues their key.
    pub async fn add_agent(
        &self,
        principal: &Principal,
        name: String,
        email: String,
        role: Role,
    ) -> Result<IssuedAgent, AppError> {
        let agent_id = Uuid::now_v7();
        let issued = self.keys.issue();
        let executed = self
            .on_workspace(
                principal,
                Action::ManageTeam,
                Command::AddAgent(NewAgent {
                    agent_id,
                    name,
                    email,
                    role,
                    key_hash: issued.hash,
                }),
            )
            .await?;
        Ok(IssuedAgent {
            agent_id,
            api_key: issued.key,
            workspace: executed.state,
            appended: executed.appended,
        })
    }

    /// Deactivates a team member. (Releasing their conversations is the work
    /// of a process manager that follows the log.)
    pub async fn deactivate_agent(
        &self,
        principal: &Principal,
        agent_id: Uuid,
    ) -> Result<Executed<WorkspaceState>, AppError> {
        self.on_workspace(
            principal,
            Action::ManageTeam,
            Command::DeactivateAgent { agent_id },
        )
        .await
    }

    /// Replaces a team member's key; the old one stops working.
    pub async fn rotate_key(
        &self,
        principal: &Principal,
        agent_id: Uuid,
    ) -> Result<IssuedAgent, AppError> {
        let issued = self.keys.issue();
        let executed = self
            .on_workspace(
                principal,
                Action::ManageTeam,
                Command::RotateKey {
                    agent_id,
                    key_hash: issued.hash,
                },
            )
            .await?;
        Ok(IssuedAgent {
            agent_id,
            api_key: issued.key,
            workspace: executed.state,
            appended: executed.appended,
        })
    }

    /// Defines (or relabels) a custom contact field.
    pub async fn define_custom_field(
        &self,
        principal: &Principal,
        key: String,
        label: String,
        field_type: CustomFieldType,
    ) -> Result<Executed<WorkspaceState>, AppError> {
        self.on_workspace(
            principal,
            Action::DefineCustomField,
            Command::DefineCustomField {
                key,
                label,
                field_type,
            },
        )
        .await
    }

    /// Creates (`rule_id: None`) or replaces a rule; returns its id.
    pub async fn save_rule(
        &self,
        principal: &Principal,
        rule_id: Option<Uuid>,
        rule: RuleInput,
    ) -> Result<(Uuid, Executed<WorkspaceState>), AppError> {
        let (rule_id, create) = match rule_id {
            Some(id) => (id, false),
            None => (Uuid::now_v7(), true),
        };
        let executed = self
            .on_workspace(
                principal,
                Action::ManageRules,
                Command::SaveRule {
                    rule_id,
                    create,
                    rule,
                },
            )
            .await?;
        Ok((rule_id, executed))
    }

    /// Deletes a rule.
    pub async fn delete_rule(
        &self,
        principal: &Principal,
        rule_id: Uuid,
    ) -> Result<Executed<WorkspaceState>, AppError> {
        self.on_workspace(
            principal,
            Action::ManageRules,
            Command::DeleteRule { rule_id },
        )
        .await
    }

    async fn on_workspace(
        &self,
        principal: &Principal,
        action: Action,
        command: Command,
    ) -> Result<Executed<WorkspaceState>, AppError> {
        Self::require(principal, action)?;
        self.workspace(principal.workspace_id).await?;
        self.aggregates
            .execute::<Workspace>(
                &stream(StreamCategory::Workspace, principal.workspace_id),
                &self.context(principal),
                |_| Ok(command.clone()),
            )
            .await
    }
}
