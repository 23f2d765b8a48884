//! Admin mutations: the team and its keys, custom fields, orchestration
//! rules, workspace settings.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use tahc_domain::workspace::RuleInput;
use tahc_events::{RuleAction, RuleCondition};
use uuid::Uuid;

use super::caller;
use super::contacts::{
    ActionKind, CustomFieldDefinition, CustomFieldType, OrchestrationRule, Trigger,
};
use super::errors::UserError;
use super::ids;
use super::payload::{errors_of, run, run_on};
use super::types::{Agent, ConversationStatus, Role, Workspace, agent, node};

/// Adds a team member.
#[derive(InputObject)]
pub struct AddAgentInput {
    name: String,
    email: String,
    role: Role,
    client_mutation_id: Option<String>,
}

/// Names a team member.
#[derive(InputObject)]
pub struct AgentInput {
    agent_id: ID,
    client_mutation_id: Option<String>,
}

/// What a team mutation did.
#[derive(SimpleObject)]
pub struct AgentPayload {
    agent: Option<Agent>,
    /// The new API key, shown once and never again.
    api_key: Option<String>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Defines (or relabels) a custom contact field.
#[derive(InputObject)]
pub struct DefineCustomFieldInput {
    key: String,
    label: String,
    #[graphql(name = "type")]
    field_type: CustomFieldType,
    client_mutation_id: Option<String>,
}

/// What `defineCustomField` did.
#[derive(SimpleObject)]
pub struct CustomFieldDefinitionPayload {
    definition: Option<CustomFieldDefinition>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// When a rule fires.
#[derive(InputObject)]
pub struct RuleConditionInput {
    trigger: Trigger,
    /// Only when the visitor is not yet a known contact.
    unknown_visitor_only: Option<bool>,
    /// Only when the message body contains one of these words (case-insensitive).
    keywords: Option<Vec<String>>,
}

/// What a rule does.
#[derive(InputObject)]
pub struct RuleActionInput {
    kind: ActionKind,
    agent_id: Option<ID>,
    status: Option<ConversationStatus>,
    message: Option<String>,
}

/// Creates or replaces an orchestration rule.
#[derive(InputObject)]
pub struct SaveOrchestrationRuleInput {
    /// Omit to create a new rule.
    rule_id: Option<ID>,
    name: String,
    enabled: bool,
    condition: RuleConditionInput,
    action: RuleActionInput,
    client_mutation_id: Option<String>,
}

/// What `saveOrchestrationRule` did.
#[derive(SimpleObject)]
pub struct OrchestrationRulePayload {
    rule: Option<OrchestrationRule>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Names a rule.
#[derive(InputObject)]
#[graphql(name = "RuleInput")]
pub struct RuleInputObject {
    rule_id: ID,
    client_mutation_id: Option<String>,
}

/// What a deletion did.
#[derive(SimpleObject)]
pub struct DeletedPayload {
    deleted_id: Option<ID>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// Changes the AI settings.
#[derive(InputObject)]
pub struct UpdateWorkspaceSettingsInput {
    ai_confidence_threshold: Option<f64>,
    ai_enabled: Option<bool>,
    client_mutation_id: Option<String>,
}

/// What `updateWorkspaceSettings` did.
#[derive(SimpleObject)]
pub struct WorkspacePayload {
    workspace: Option<Workspace>,
    user_errors: Vec<UserError>,
    client_mutation_id: Option<String>,
}

/// The payload of a team mutation: the agent as the views show it now.
fn agent_payload(
    ctx: &Context<'_>,
    outcome: std::result::Result<(Uuid, Option<String>), UserError>,
    client_mutation_id: Option<String>,
) -> Result<AgentPayload> {
    let workspace = caller(ctx)?.workspace_id;
    let (agent, api_key) = match &outcome {
        Ok((id, key)) => (agent(ctx, workspace, Some(*id))?, key.clone()),
        Err(_) => (None, None),
    };
    Ok(AgentPayload {
        agent,
        api_key,
        user_errors: errors_of(&outcome),
        client_mutation_id,
    })
}

/// The rule a save describes, or the user error about its action's agent.
fn rule_of(input: &SaveOrchestrationRuleInput) -> std::result::Result<RuleInput, UserError> {
    let agent_id = match &input.action.agent_id {
        Some(id) => Some(
            ids::decode("Agent", id)
                .ok_or_else(|| UserError::not_found(&["action", "agentId"], "not an Agent id"))?,
        ),
        None => None,
    };
    Ok(RuleInput {
        name: input.name.clone(),
        enabled: input.enabled,
        condition: RuleCondition {
            trigger: input.condition.trigger.into(),
            unknown_visitor_only: input.condition.unknown_visitor_only.unwrap_or(false),
            keywords: input.condition.keywords.clone().unwrap_or_default(),
        },
        action: RuleAction {
            kind: input.action.kind.into(),
            agent_id,
            status: input.action.status.map(Into::into),
            message: input.action.message.clone(),
        },
    })
}

/// Admin mutations.
#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// Adds a team member; their API key is in the payload, once.
    async fn add_agent(&self, ctx: &Context<'_>, input: AddAgentInput) -> Result<AgentPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run(
            ctx,
            "email",
            commands.add_agent(&caller, input.name, input.email, input.role.into()),
        )
        .await?
        .map(|issued| (issued.agent_id, Some(issued.api_key)));
        agent_payload(ctx, outcome, input.client_mutation_id)
    }

    /// Deactivates a team member: their key stops working.
    async fn deactivate_agent(&self, ctx: &Context<'_>, input: AgentInput) -> Result<AgentPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "Agent", &input.agent_id, "agentId", |id| {
            commands.deactivate_agent(&caller, id)
        })
        .await?
        .map(|(id, _)| (id, None));
        agent_payload(ctx, outcome, input.client_mutation_id)
    }

    /// Replaces a team member's key; the new one is in the payload, once.
    async fn rotate_api_key(&self, ctx: &Context<'_>, input: AgentInput) -> Result<AgentPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "Agent", &input.agent_id, "agentId", |id| {
            commands.rotate_key(&caller, id)
        })
        .await?
        .map(|(id, issued)| (id, Some(issued.api_key)));
        agent_payload(ctx, outcome, input.client_mutation_id)
    }

    /// Defines (or relabels) a custom contact field.
    async fn define_custom_field(
        &self,
        ctx: &Context<'_>,
        input: DefineCustomFieldInput,
    ) -> Result<CustomFieldDefinitionPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let key = input.key.clone();
        let outcome = run(
            ctx,
            "key",
            commands.define_custom_field(&caller, input.key, input.label, input.field_type.into()),
        )
        .await?;
        let definition = match &outcome {
            Ok(_) => node(ctx)
                .team()
                .workspace(caller.workspace_id)?
                .and_then(|w| w.custom_fields.get(key.trim()).cloned())
                .map(CustomFieldDefinition::from),
            Err(_) => None,
        };
        Ok(CustomFieldDefinitionPayload {
            definition,
            user_errors: errors_of(&outcome),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Creates (no `ruleId`) or replaces an orchestration rule.
    async fn save_orchestration_rule(
        &self,
        ctx: &Context<'_>,
        input: SaveOrchestrationRuleInput,
    ) -> Result<OrchestrationRulePayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let rule_id = input
            .rule_id
            .as_ref()
            .map(|id| super::payload::input_id("OrchestrationRule", id, "ruleId"))
            .transpose();
        let outcome = match (rule_id, rule_of(&input)) {
            (Ok(rule_id), Ok(rule)) => {
                run(ctx, "ruleId", commands.save_rule(&caller, rule_id, rule))
                    .await?
                    .map(|(id, _)| id)
            }
            (Err(error), _) | (_, Err(error)) => Err(error),
        };
        let rule = match &outcome {
            Ok(id) => node(ctx)
                .team()
                .workspace(caller.workspace_id)?
                .and_then(|w| w.rules.get(id).cloned())
                .map(|record| OrchestrationRule {
                    record,
                    workspace: caller.workspace_id,
                }),
            Err(_) => None,
        };
        Ok(OrchestrationRulePayload {
            rule,
            user_errors: errors_of(&outcome),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Deletes an orchestration rule.
    async fn delete_orchestration_rule(
        &self,
        ctx: &Context<'_>,
        input: RuleInputObject,
    ) -> Result<DeletedPayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run_on(ctx, "OrchestrationRule", &input.rule_id, "ruleId", |id| {
            commands.delete_rule(&caller, id)
        })
        .await?;
        Ok(DeletedPayload {
            deleted_id: outcome.as_ref().ok().map(|_| input.rule_id.clone()),
            user_errors: errors_of(&outcome),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Changes the AI settings of the caller's workspace.
    async fn update_workspace_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkspaceSettingsInput,
    ) -> Result<WorkspacePayload> {
        let caller = caller(ctx)?;
        let commands = &node(ctx).commands;
        let outcome = run(
            ctx,
            "workspace",
            commands.update_settings(&caller, input.ai_confidence_threshold, input.ai_enabled),
        )
        .await?;
        let workspace = match &outcome {
            Ok(_) => node(ctx)
                .team()
                .workspace(caller.workspace_id)?
                .map(Workspace),
            Err(_) => None,
        };
        Ok(WorkspacePayload {
            workspace,
            user_errors: errors_of(&outcome),
            client_mutation_id: input.client_mutation_id,
        })
    }
}
