//! Contacts and the team's workspace data: queries and types.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tahc_app::Principal;
use tahc_domain::Email;
use tahc_projections::{
    ContactOrder as ViewOrder, ContactRecord, ConversationFilter, ConversationOrder, NoteRecord,
};

use super::caller;
use super::errors::coded;
use super::ids;
use super::query::OrderDirection;
use super::types::{Agent, ConversationConnection, PageInfo, agent, node, window};

/// The caller, if on the team: contacts, agents and rules are the team's,
/// and visitors may not read them.
pub fn team_member(ctx: &Context<'_>) -> Result<Principal> {
    let caller = caller(ctx)?;
    if caller.agent_id().is_none() {
        return Err(coded("FORBIDDEN", "this is for the team only"));
    }
    Ok(caller)
}

/// The types a custom field's values may have.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "tahc_events::CustomFieldType")]
#[allow(missing_docs)]
pub enum CustomFieldType {
    Text,
    Number,
    Boolean,
    Date,
}

/// A custom contact field.
#[derive(SimpleObject)]
pub struct CustomFieldDefinition {
    key: String,
    label: String,
    #[graphql(name = "type")]
    field_type: CustomFieldType,
}

impl From<tahc_projections::FieldRecord> for CustomFieldDefinition {
    fn from(field: tahc_projections::FieldRecord) -> Self {
        CustomFieldDefinition {
            key: field.key,
            label: field.label,
            field_type: field.field_type.into(),
        }
    }
}

/// A custom field's value on a contact.
#[derive(SimpleObject)]
pub struct CustomFieldValue {
    key: String,
    label: String,
    #[graphql(name = "type")]
    field_type: CustomFieldType,
    value: Option<Json<serde_json::Value>>,
}

/// A team note on a contact.
pub struct ContactNote {
    /// The note.
    pub record: NoteRecord,
    /// Its contact's workspace.
    pub workspace: uuid::Uuid,
}

#[Object]
impl ContactNote {
    pub(crate) async fn id(&self) -> ID {
        ids::encode("ContactNote", self.record.id)
    }
    async fn body(&self) -> &str {
        &self.record.body
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<Agent> {
        agent(ctx, self.workspace, Some(self.record.author_id))?
            .ok_or_else(|| coded("INTERNAL", "the note's author is missing"))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.record.updated_at
    }
}

/// A known person.
pub struct Contact(pub ContactRecord);

#[Object]
impl Contact {
    pub(crate) async fn id(&self) -> ID {
        ids::encode("Contact", self.0.id)
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn first_seen_at(&self) -> DateTime<Utc> {
        self.0.first_seen_at
    }
    async fn last_active_at(&self) -> DateTime<Utc> {
        self.0.last_active_at
    }
    async fn last_conversation_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_conversation_at
    }
    async fn conversation_count(&self) -> i32 {
        self.0.conversations.len() as i32
    }
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ConversationConnection> {
        let caller = team_member(ctx)?;
        let window = window(first, after, last, before)?;
        let filter = ConversationFilter {
            only: Some(self.0.conversations.clone()),
            ..ConversationFilter::default()
        };
        let page = node(ctx).conversations().list(
            self.0.workspace_id,
            &filter,
            ConversationOrder::LastActivity,
            true,
            &window,
        )?;
        Ok(ConversationConnection::new(
            page,
            &caller,
            self.0.workspace_id,
            filter,
        ))
    }
    /// Team notes (team only).
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<ContactNote>> {
        team_member(ctx)?;
        let mut notes: Vec<_> = self.0.notes.values().cloned().collect();
        notes.sort_by_key(|n| (n.created_at, n.id));
        Ok(notes
            .into_iter()
            .map(|record| ContactNote {
                record,
                workspace: self.0.workspace_id,
            })
            .collect())
    }
    /// Custom field values (team only).
    async fn custom_fields(&self, ctx: &Context<'_>) -> Result<Vec<CustomFieldValue>> {
        team_member(ctx)?;
        let Some(workspace) = node(ctx).team().workspace(self.0.workspace_id)? else {
            return Ok(Vec::new());
        };
        Ok(workspace
            .custom_fields
            .values()
            .map(|field| CustomFieldValue {
                key: field.key.clone(),
                label: field.label.clone(),
                field_type: field.field_type.into(),
                value: self.0.custom_fields.get(&field.key).cloned().map(Json),
            })
            .collect())
    }
    async fn blocked(&self) -> bool {
        self.0.blocked()
    }
    /// True after a privacy erasure: personal data is gone, the audit trail stays.
    async fn erased(&self) -> bool {
        self.0.erased
    }
    async fn position(&self) -> String {
        self.0.position.to_string()
    }
}

/// The fields contacts sort by.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ContactOrderField {
    /// Alphabetical.
    Name,
    /// Most recently active.
    LastActiveAt,
    /// Creation.
    FirstSeenAt,
    /// Number of conversations.
    ConversationCount,
}

/// How to sort contacts.
#[derive(InputObject)]
pub struct ContactOrder {
    field: ContactOrderField,
    direction: OrderDirection,
}

/// A contact with its cursor.
#[derive(SimpleObject)]
pub struct ContactEdge {
    cursor: String,
    node: Contact,
}

/// A page of contacts.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ContactConnection {
    edges: Vec<ContactEdge>,
    page_info: PageInfo,
    #[graphql(skip)]
    workspace: uuid::Uuid,
    #[graphql(skip)]
    only: Option<std::collections::BTreeSet<uuid::Uuid>>,
}

#[async_graphql::ComplexObject]
impl ContactConnection {
    async fn nodes(&self) -> Vec<&Contact> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    /// Counted only when asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let total = node(ctx)
            .contacts()
            .count(self.workspace, self.only.as_ref())?;
        Ok(i32::try_from(total).unwrap_or(i32::MAX))
    }
}

/// An orchestration rule.
pub struct OrchestrationRule {
    /// The rule.
    pub record: tahc_projections::RuleRecord,
    /// Its workspace.
    pub workspace: uuid::Uuid,
}

#[Object]
impl OrchestrationRule {
    pub(crate) async fn id(&self) -> ID {
        ids::encode("OrchestrationRule", self.record.id)
    }
    async fn name(&self) -> &str {
        &self.record.name
    }
    async fn enabled(&self) -> bool {
        self.record.enabled
    }
    async fn trigger(&self) -> Trigger {
        self.record.condition.trigger.into()
    }
    async fn unknown_visitor_only(&self) -> bool {
        self.record.condition.unknown_visitor_only
    }
    async fn keywords(&self) -> &Vec<String> {
        &self.record.condition.keywords
    }
    async fn action(&self) -> ActionKind {
        self.record.action.kind.into()
    }
    async fn action_agent(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        agent(ctx, self.workspace, self.record.action.agent_id)
    }
    async fn action_status(&self) -> Option<super::types::ConversationStatus> {
        self.record.action.status.map(Into::into)
    }
    async fn action_message(&self) -> Option<&str> {
        self.record.action.message.as_deref()
    }
}

/// What starts a rule.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "tahc_events::Trigger")]
#[allow(missing_docs)]
pub enum Trigger {
    ConversationStarted,
    MessageReceived,
    HandoffRequested,
    ConversationClosed,
}

/// What a rule does.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "tahc_events::ActionKind")]
#[allow(missing_docs)]
pub enum ActionKind {
    AskForEmail,
    AssignTo,
    SetStatus,
    RequestHuman,
    SendMessage,
}

/// Queries about contacts and the team.
#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// One contact of the caller's workspace.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contact>> {
        let caller = team_member(ctx)?;
        let Some(id) = ids::decode("Contact", &id) else {
            return Ok(None);
        };
        Ok(node(ctx)
            .contacts()
            .get(id)?
            .filter(|c| c.workspace_id == caller.workspace_id)
            .map(Contact))
    }

    /// The live contact with this email.
    async fn contact_by_email(&self, ctx: &Context<'_>, email: String) -> Result<Option<Contact>> {
        let caller = team_member(ctx)?;
        let Ok(email) = Email::parse(&email, "email") else {
            return Ok(None);
        };
        let contacts = node(ctx).contacts();
        for id in contacts.search(caller.workspace_id, email.as_str())? {
            if let Some(contact) = contacts.get(id)?
                && contact.email.as_deref() == Some(email.as_str())
            {
                return Ok(Some(Contact(contact)));
            }
        }
        Ok(None)
    }

    /// Contacts: words of the name (prefix match) or the email.
    #[allow(clippy::too_many_arguments)]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        search: Option<String>,
        order_by: Option<ContactOrder>,
    ) -> Result<ContactConnection> {
        let caller = team_member(ctx)?;
        let window = window(first, after, last, before)?;
        let contacts = node(ctx).contacts();
        let only = match search.filter(|s| !s.trim().is_empty()) {
            Some(search) => {
                Some(contacts.search(caller.workspace_id, super::query::bounded_search(&search)?)?)
            }
            None => None,
        };
        let (order, descending) = match order_by {
            None => (ViewOrder::LastActiveAt, true),
            Some(order) => (
                match order.field {
                    ContactOrderField::Name => ViewOrder::Name,
                    ContactOrderField::LastActiveAt => ViewOrder::LastActiveAt,
                    ContactOrderField::FirstSeenAt => ViewOrder::FirstSeenAt,
                    ContactOrderField::ConversationCount => ViewOrder::ConversationCount,
                },
                order.direction == OrderDirection::Desc,
            ),
        };
        let page = contacts.list(
            caller.workspace_id,
            only.as_ref(),
            order,
            descending,
            &window,
        )?;
        Ok(ContactConnection {
            page_info: PageInfo::of(&page),
            edges: page
                .items
                .into_iter()
                .map(|(cursor, record)| ContactEdge {
                    cursor: cursor.encode(),
                    node: Contact(record),
                })
                .collect(),
            workspace: caller.workspace_id,
            only,
        })
    }

    /// The workspace's custom contact fields.
    async fn custom_field_definitions(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<CustomFieldDefinition>> {
        let caller = caller(ctx)?;
        let workspace = node(ctx).team().workspace(caller.workspace_id)?;
        Ok(workspace
            .map(|w| {
                w.custom_fields
                    .into_values()
                    .map(CustomFieldDefinition::from)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The team (for team members).
    async fn agents(&self, ctx: &Context<'_>) -> Result<Vec<Agent>> {
        let caller = team_member(ctx)?;
        let workspace = node(ctx).team().workspace(caller.workspace_id)?;
        Ok(workspace
            .map(|w| w.agents.into_values().map(Agent).collect())
            .unwrap_or_default())
    }

    /// The workspace's orchestration rules (for team members).
    async fn orchestration_rules(&self, ctx: &Context<'_>) -> Result<Vec<OrchestrationRule>> {
        let caller = team_member(ctx)?;
        let workspace = node(ctx).team().workspace(caller.workspace_id)?;
        Ok(workspace
            .map(|w| {
                w.rules
                    .into_values()
                    .map(|record| OrchestrationRule {
                        record,
                        workspace: caller.workspace_id,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}
