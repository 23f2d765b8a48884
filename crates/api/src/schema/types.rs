//! The contract's object types over the read models.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tahc_app::history::ConversationAsOf;
use tahc_app::{Node, Principal, PrincipalKind};
use tahc_projections::{
    AgentRecord, ConversationFilter as ViewFilter, ConversationRecord, Conversations, Cursor,
    MessageRecord, Page, VisitorRecord, Window, WorkspaceRecord,
};
use uuid::Uuid;

use super::caller;
use super::errors::coded;
use super::ids;

macro_rules! remote_enum {
    ($name:ident => $remote:literal { $($variant:ident),* $(,)? } $doc:literal) => {
        #[doc = $doc]
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
        #[graphql(remote = $remote)]
        #[allow(missing_docs)]
        pub enum $name { $($variant),* }
    };
}

remote_enum!(ConversationStatus => "tahc_events::ConversationStatus" { Open, Pending, Closed } "Where a conversation stands.");
remote_enum!(Controller => "tahc_events::Controller" { Ai, Human } "Who currently answers the visitor.");
remote_enum!(HandoffReason => "tahc_events::HandoffReason" { LowConfidence, CustomerRequest, Rule, AgentInitiated } "Why a human was requested.");
remote_enum!(AuthorKind => "tahc_events::AuthorKind" { Visitor, Ai, Agent, System } "Who wrote a message.");
remote_enum!(Role => "tahc_events::Role" { Admin, Agent, Bot, Auditor } "A team member's role.");

/// The node and the caller, as every resolver needs them.
pub fn node<'a>(ctx: &Context<'a>) -> &'a Arc<Node> {
    ctx.data_unchecked::<Arc<Node>>()
}

/// Sanity limits of Relay windows.
pub const MAX_PAGE: i32 = 100;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: usize = 20;

/// Checks Relay arguments and turns them into a window.
pub fn window(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<Window> {
    let size = |n: i32, name: &str| {
        if (1..=MAX_PAGE).contains(&n) {
            Ok(n as usize)
        } else {
            Err(coded(
                "BAD_USER_INPUT",
                format!("`{name}` must be between 1 and {MAX_PAGE}"),
            ))
        }
    };
    let cursor = |text: Option<String>, name: &str| {
        text.map(|t| {
            Cursor::decode(&t).ok_or_else(|| {
                coded(
                    "BAD_USER_INPUT",
                    format!("`{name}` is not a cursor of this list"),
                )
            })
        })
        .transpose()
    };
    if first.is_some() && last.is_some() {
        return Err(coded("BAD_USER_INPUT", "give `first` or `last`, not both"));
    }
    let first = first.map(|n| size(n, "first")).transpose()?;
    let last = last.map(|n| size(n, "last")).transpose()?;
    Ok(Window {
        first: first.or(if last.is_none() {
            Some(DEFAULT_PAGE)
        } else {
            None
        }),
        after: cursor(after, "after")?,
        last,
        before: cursor(before, "before")?,
    })
}

/// Relay's page information.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// More items follow.
    pub has_next_page: bool,
    /// More items precede.
    pub has_previous_page: bool,
    /// The first item's cursor.
    pub start_cursor: Option<String>,
    /// The last item's cursor.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// The page information of a page.
    pub fn of<T>(page: &Page<T>) -> Self {
        PageInfo {
            has_next_page: page.has_next,
            has_previous_page: page.has_previous,
            start_cursor: page.items.first().map(|(c, _)| c.encode()),
            end_cursor: page.items.last().map(|(c, _)| c.encode()),
        }
    }
}

/// A team member.
pub struct Agent(pub AgentRecord);

#[Object]
impl Agent {
    pub(crate) async fn id(&self) -> ID {
        ids::encode("Agent", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The team sees it; a visitor sees an agent's name only (FORBIDDEN).
    async fn email(&self, ctx: &Context<'_>) -> Result<&str> {
        match super::caller(ctx)?.kind {
            PrincipalKind::Visitor { .. } => Err(coded(
                "FORBIDDEN",
                "visitors see an agent's name, not its email",
            )),
            _ => Ok(&self.0.email),
        }
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn active(&self) -> bool {
        self.0.active
    }
}

/// A workspace's AI settings.
#[derive(SimpleObject)]
pub struct WorkspaceSettings {
    /// AI replies below this confidence request a human automatically.
    pub ai_confidence_threshold: f64,
    /// Whether new conversations start under AI control.
    pub ai_enabled: bool,
}

/// A workspace.
pub struct Workspace(pub WorkspaceRecord);

#[Object]
impl Workspace {
    pub(crate) async fn id(&self) -> ID {
        ids::encode("Workspace", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn settings(&self) -> WorkspaceSettings {
        WorkspaceSettings {
            ai_confidence_threshold: self.0.ai_confidence_threshold,
            ai_enabled: self.0.ai_enabled,
        }
    }
}

/// A website visitor.
pub struct Visitor(pub VisitorRecord);

#[Object]
impl Visitor {
    pub(crate) async fn id(&self) -> ID {
        ids::encode("Visitor", self.0.id)
    }
    /// Name or email when known, else a short visitor id. A visitor sees
    /// itself named by the address it gave whether or not that address was
    /// new (an unverified claim reveals nothing to it).
    async fn display_name(&self, ctx: &Context<'_>) -> Result<String> {
        let visitor = &self.0;
        if caller(ctx)?.visitor_id().is_some()
            && visitor.name.is_none()
            && visitor.email.is_none()
            && let Some((email, _)) = &visitor.claim
        {
            return Ok(email.clone());
        }
        Ok(visitor.display_name())
    }
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<super::contacts::Contact>> {
        contact(ctx, self.0.contact_id)
    }
    /// An address the visitor gave that another contact holds: unverified,
    /// linked to nothing until the team confirms it (`confirmVisitorEmail`).
    /// Team only: to a visitor it is null, as it would be for a new address.
    async fn unverified_email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        if caller(ctx)?.visitor_id().is_some() {
            return Ok(None);
        }
        Ok(self.0.claim.as_ref().map(|(email, _)| email.as_str()))
    }
    /// The contact holding `unverifiedEmail` (team only).
    async fn claimed_contact(&self, ctx: &Context<'_>) -> Result<Option<super::contacts::Contact>> {
        contact(
            ctx,
            self.0.claim.as_ref().map(|(_, contact_id)| *contact_id),
        )
    }
    async fn blocked(&self) -> bool {
        self.0.blocked
    }
    async fn first_seen_at(&self) -> DateTime<Utc> {
        self.0.first_seen_at
    }
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.0.last_seen_at
    }
}

/// The caller.
pub struct Viewer(pub Principal);

#[Object]
impl Viewer {
    /// The agent behind the token; null for a visitor token.
    async fn agent(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        agent(ctx, self.0.workspace_id, self.0.agent_id())
    }
    /// The visitor behind a visitor token; null otherwise.
    async fn visitor(&self, ctx: &Context<'_>) -> Result<Option<Visitor>> {
        let Some(visitor_id) = self.0.visitor_id() else {
            return Ok(None);
        };
        visible_visitor(ctx, &self.0, visitor_id)
    }
    async fn role(&self) -> Option<Role> {
        self.0.role().map(Into::into)
    }
    async fn workspace(&self, ctx: &Context<'_>) -> Result<Workspace> {
        node(ctx)
            .team()
            .workspace(self.0.workspace_id)?
            .map(Workspace)
            .ok_or_else(|| coded("NOT_FOUND", "workspace not found"))
    }
}

/// An agent of a workspace, by id.
pub fn agent(ctx: &Context<'_>, workspace: Uuid, agent_id: Option<Uuid>) -> Result<Option<Agent>> {
    let Some(agent_id) = agent_id else {
        return Ok(None);
    };
    Ok(node(ctx)
        .team()
        .workspace(workspace)?
        .and_then(|w| w.agents.get(&agent_id).cloned())
        .map(Agent))
}

/// A visitor of the caller's workspace, if the caller may see it: the team
/// sees every one, a visitor itself. A visitor whose session has not done
/// anything yet is not in the log (a session alone is no event): it sees
/// itself as it stands, seen first when its session opened.
pub(crate) fn visible_visitor(
    ctx: &Context<'_>,
    caller: &Principal,
    id: Uuid,
) -> Result<Option<Visitor>> {
    let recorded = node(ctx)
        .contacts()
        .visitor(id)?
        .filter(|v| v.workspace_id == caller.workspace_id);
    let itself = caller.visitor_id() == Some(id);
    if !itself {
        return Ok(recorded
            .filter(|_| caller.agent_id().is_some())
            .map(Visitor));
    }
    Ok(Some(Visitor(recorded.unwrap_or_else(|| {
        let opened = id
            .get_timestamp()
            .map(|t| t.to_unix())
            .and_then(|(s, n)| DateTime::from_timestamp(i64::try_from(s).ok()?, n))
            .unwrap_or_default();
        VisitorRecord::new(
            id,
            caller.workspace_id,
            opened,
            tahc_events::Position::START,
        )
    }))))
}

/// A contact by id: the team's records, null for a visitor.
fn contact(ctx: &Context<'_>, id: Option<Uuid>) -> Result<Option<super::contacts::Contact>> {
    let Some(id) = id else { return Ok(None) };
    if super::caller(ctx)?.agent_id().is_none() {
        return Ok(None);
    }
    Ok(node(ctx).contacts().get(id)?.map(super::contacts::Contact))
}

/// The open handoff request, or the last accepted one.
pub struct Handoff {
    record: tahc_projections::HandoffRecord,
    workspace: Uuid,
}

#[Object]
impl Handoff {
    async fn reason(&self) -> HandoffReason {
        self.record.reason.into()
    }
    async fn requested_at(&self) -> DateTime<Utc> {
        self.record.requested_at
    }
    /// Set once an agent took over.
    async fn accepted_by(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        agent(ctx, self.workspace, self.record.accepted_by)
    }
    async fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.record.accepted_at
    }
}

/// One message of a conversation.
pub struct Message {
    /// The message.
    pub record: MessageRecord,
    /// Its conversation's workspace.
    pub workspace: Uuid,
}

#[Object]
impl Message {
    pub(crate) async fn id(&self) -> ID {
        ids::encode("Message", self.record.id)
    }
    async fn conversation(&self, ctx: &Context<'_>) -> Result<Conversation> {
        let caller = super::caller(ctx)?;
        node(ctx)
            .conversations()
            .get(self.record.conversation_id)?
            .map(|record| Conversation::for_caller(record, &caller))
            .ok_or_else(|| coded("INTERNAL", "the message's conversation is missing"))
    }
    async fn author_kind(&self) -> AuthorKind {
        self.record.author_kind.into()
    }
    /// The agent who wrote it, for AGENT messages.
    async fn agent(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        agent(ctx, self.workspace, self.record.agent_id)
    }
    /// The text (empty once erased).
    async fn body(&self) -> String {
        self.record.body.clone().unwrap_or_default()
    }
    async fn internal(&self) -> bool {
        self.record.internal
    }
    async fn confidence(&self) -> Option<f64> {
        self.record.confidence
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
    async fn position(&self) -> String {
        self.record.position.to_string()
    }
}

/// A conversation, as its caller may see it.
pub struct Conversation {
    record: ConversationRecord,
    for_visitor: bool,
    /// Where its messages are read: the node's live view, or a replay of
    /// its history up to a point.
    replayed: Option<Conversations>,
}

impl Conversation {
    /// The view of a conversation for `caller`: a visitor never sees notes.
    pub fn for_caller(record: ConversationRecord, caller: &Principal) -> Self {
        Conversation {
            record,
            for_visitor: matches!(caller.kind, PrincipalKind::Visitor { .. }),
            replayed: None,
        }
    }

    /// A conversation as it stood at a point in history (for the team).
    pub fn as_of(history: ConversationAsOf) -> Self {
        Conversation {
            record: history.record,
            for_visitor: false,
            replayed: Some(history.messages),
        }
    }
}

#[Object]
impl Conversation {
    pub(crate) async fn id(&self) -> ID {
        ids::encode("Conversation", self.record.id)
    }
    async fn status(&self) -> ConversationStatus {
        self.record.status.into()
    }
    async fn controller(&self) -> Controller {
        self.record.controller.into()
    }
    async fn handoff(&self) -> Option<Handoff> {
        self.record.handoff.clone().map(|record| Handoff {
            record,
            workspace: self.record.workspace_id,
        })
    }
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        agent(ctx, self.record.workspace_id, self.record.assignee)
    }
    async fn visitor(&self, ctx: &Context<'_>) -> Result<Visitor> {
        node(ctx)
            .contacts()
            .visitor(self.record.visitor_id)?
            .map(Visitor)
            .ok_or_else(|| coded("INTERNAL", "the conversation's visitor is missing"))
    }
    /// The contact the visitor is known as, once identified.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<super::contacts::Contact>> {
        contact(ctx, self.record.contact_id)
    }
    /// Preview of the most recent public message.
    async fn last_message(&self) -> Option<Message> {
        self.record.last_message.clone().map(|record| Message {
            record,
            workspace: self.record.workspace_id,
        })
    }
    async fn last_activity_at(&self) -> DateTime<Utc> {
        self.record.last_activity_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.record.closed_at
    }
    async fn snoozed_until(&self) -> Option<DateTime<Utc>> {
        self.record.snoozed_until
    }
    async fn message_count(&self) -> i32 {
        let count = if self.for_visitor {
            self.record.public_message_count
        } else {
            self.record.message_count
        };
        count as i32
    }
    async fn ai_message_count(&self) -> i32 {
        self.record.ai_message_count as i32
    }
    async fn human_message_count(&self) -> i32 {
        self.record.human_message_count as i32
    }
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<MessageConnection> {
        let window = window(first, after, last, before)?;
        let messages = match &self.replayed {
            Some(replayed) => replayed.clone(),
            None => node(ctx).conversations(),
        };
        let page = messages.messages(self.record.id, self.for_visitor, &window)?;
        let total = if self.for_visitor {
            self.record.public_message_count
        } else {
            self.record.message_count
        };
        Ok(MessageConnection {
            page_info: PageInfo::of(&page),
            edges: page
                .items
                .into_iter()
                .map(|(cursor, record)| MessageEdge {
                    cursor: cursor.encode(),
                    node: Message {
                        record,
                        workspace: self.record.workspace_id,
                    },
                })
                .collect(),
            total_count: total as i32,
        })
    }
    async fn position(&self) -> String {
        self.record.position.to_string()
    }
}

/// A message with its cursor.
#[derive(SimpleObject)]
pub struct MessageEdge {
    /// Where it is in the list.
    pub cursor: String,
    /// The message.
    pub node: Message,
}

/// A page of messages.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct MessageConnection {
    /// The messages with their cursors.
    pub edges: Vec<MessageEdge>,
    /// Where the page is.
    pub page_info: PageInfo,
    /// How many messages the caller may see in all.
    pub total_count: i32,
}

#[ComplexObject]
impl MessageConnection {
    async fn nodes(&self) -> Vec<&Message> {
        self.edges.iter().map(|e| &e.node).collect()
    }
}

/// A conversation with its cursor.
#[derive(SimpleObject)]
pub struct ConversationEdge {
    /// Where it is in the list.
    pub cursor: String,
    /// The conversation.
    pub node: Conversation,
}

/// A page of conversations.
pub struct ConversationConnection {
    /// The conversations with their cursors.
    pub edges: Vec<ConversationEdge>,
    /// Where the page is.
    pub page_info: PageInfo,
    /// The workspace and filter, to count on demand.
    pub workspace: Uuid,
    /// The filter the page was listed with.
    pub filter: ViewFilter,
}

impl ConversationConnection {
    /// A page of conversations as `caller` may see them; `workspace` and
    /// `filter` let `totalCount` count on demand.
    #[must_use]
    pub fn new(
        page: Page<ConversationRecord>,
        caller: &Principal,
        workspace: Uuid,
        filter: ViewFilter,
    ) -> Self {
        ConversationConnection {
            page_info: PageInfo::of(&page),
            edges: page
                .items
                .into_iter()
                .map(|(cursor, record)| ConversationEdge {
                    cursor: cursor.encode(),
                    node: Conversation::for_caller(record, caller),
                })
                .collect(),
            workspace,
            filter,
        }
    }
}

#[Object]
impl ConversationConnection {
    async fn edges(&self) -> &Vec<ConversationEdge> {
        &self.edges
    }
    async fn nodes(&self) -> Vec<&Conversation> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// Counted only when asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(node(ctx)
            .conversations()
            .count(self.workspace, &self.filter)? as i32)
    }
}
