//! Queries about the caller and conversations.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use std::collections::BTreeSet;

use tahc_app::{Node, Principal};
use tahc_projections::{ConversationFilter as ViewFilter, ConversationOrder as ViewOrder};
use uuid::Uuid;

use super::caller;
use super::errors::coded;
use super::ids;
use super::types::{
    Controller, Conversation, ConversationConnection, ConversationStatus, Viewer, node, window,
};

/// Which conversations to list.
#[derive(InputObject, Default)]
pub struct ConversationFilter {
    status: Option<Vec<ConversationStatus>>,
    assignee_id: Option<ID>,
    unassigned: Option<bool>,
    controller: Option<Controller>,
    contact_id: Option<ID>,
    /// Only conversations with an open handoff request.
    awaiting_human: Option<bool>,
    /// Words in the visitor's name or email, or in message bodies.
    search: Option<String>,
    /// `true`: snoozed conversations only; `false`: none. The team's
    /// `conversations` list leaves them out unless asked (snooze hides a
    /// conversation until it wakes); a visitor's list and the live
    /// changes include them unless asked.
    snoozed: Option<bool>,
}

/// The fields conversations sort by.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ConversationOrderField {
    /// Last public message.
    LastActivityAt,
    /// Start.
    CreatedAt,
}

/// Ascending or descending.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum OrderDirection {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// How to sort conversations.
#[derive(InputObject)]
pub struct ConversationOrder {
    field: ConversationOrderField,
    direction: OrderDirection,
}

/// The inbox counts.
#[derive(async_graphql::SimpleObject)]
pub struct ConversationCounts {
    open: i32,
    pending: i32,
    closed: i32,
    unassigned: i32,
    awaiting_human: i32,
    mine: i32,
}

impl ConversationFilter {
    /// Whether the filter searches words (resolved when it is applied).
    #[must_use]
    pub fn searches(&self) -> bool {
        self.search.as_deref().is_some_and(|s| !s.trim().is_empty())
    }

    /// The view's filter for `caller`: a visitor's own conversations only,
    /// a search resolved to the conversations it finds now.
    pub fn to_view(&self, node: &Node, caller: &Principal) -> Result<ViewFilter> {
        let mut filter = ViewFilter {
            statuses: self
                .status
                .iter()
                .flatten()
                .copied()
                .map(Into::into)
                .collect(),
            assignee: id_of("Agent", self.assignee_id.clone(), "assigneeId")?,
            unassigned: self.unassigned,
            controller: self.controller.map(Into::into),
            contact: id_of("Contact", self.contact_id.clone(), "contactId")?,
            awaiting_human: self.awaiting_human,
            visitor: caller.visitor_id(),
            snoozed: self.snoozed,
            only: None,
        };
        if let Some(search) = self.search.as_deref().filter(|_| self.searches()) {
            filter.only = Some(found_by(node, caller, search)?);
        }
        Ok(filter)
    }
}

/// Longest search text, in characters: a search looks each word up, so its
/// words bound its cost.
pub(super) const MAX_SEARCH_CHARS: usize = 200;

/// Most words a search looks up.
pub(super) const MAX_SEARCH_WORDS: usize = 10;

/// A search text within [`MAX_SEARCH_CHARS`] and [`MAX_SEARCH_WORDS`], or
/// BAD_USER_INPUT.
pub(super) fn bounded_search(search: &str) -> Result<&str> {
    if search.chars().count() > MAX_SEARCH_CHARS
        || search.split_whitespace().count() > MAX_SEARCH_WORDS
    {
        return Err(coded(
            "BAD_USER_INPUT",
            format!(
                "`search` is at most {MAX_SEARCH_CHARS} characters and {MAX_SEARCH_WORDS} words"
            ),
        ));
    }
    Ok(search)
}

/// The conversations `search` finds for `caller`: by message words (notes
/// too for the team) and, for the team, by their contact's name or email.
fn found_by(node: &Node, caller: &Principal, search: &str) -> Result<BTreeSet<Uuid>> {
    let search = bounded_search(search)?;
    let team = caller.visitor_id().is_none();
    let mut found = node
        .conversations()
        .search(caller.workspace_id, search, team)?;
    if team {
        let contacts = node.contacts().search(caller.workspace_id, search)?;
        for contact in contacts {
            if let Some(record) = node.contacts().get(contact)? {
                found.extend(record.conversations);
            }
        }
    }
    Ok(found)
}

fn id_of(kind: &str, id: Option<ID>, field: &str) -> Result<Option<uuid::Uuid>> {
    id.map(|id| {
        ids::decode(kind, &id)
            .ok_or_else(|| coded("BAD_USER_INPUT", format!("`{field}` is not a {kind} id")))
    })
    .transpose()
}

/// A conversation as `caller` may see it: of their workspace, and for a
/// visitor its own; `None` otherwise.
pub fn visible_conversation(
    ctx: &Context<'_>,
    caller: &Principal,
    id: uuid::Uuid,
) -> Result<Option<Conversation>> {
    let record = node(ctx).conversations().get(id)?;
    Ok(record
        .filter(|r| r.workspace_id == caller.workspace_id)
        .filter(|r| caller.visitor_id().is_none_or(|v| v == r.visitor_id))
        .map(|r| Conversation::for_caller(r, caller)))
}

/// Queries about conversations and the caller.
#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// The caller.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        Ok(Viewer(caller(ctx)?))
    }

    /// One conversation; null when absent or not visible to the caller.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Conversation>> {
        let caller = caller(ctx)?;
        match ids::decode("Conversation", &id) {
            Some(id) => visible_conversation(ctx, &caller, id),
            None => Ok(None),
        }
    }

    /// The inbox: conversations matching the filter, newest activity first
    /// unless ordered otherwise. A visitor sees only its own.
    #[allow(clippy::too_many_arguments)]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ConversationFilter>,
        order_by: Option<ConversationOrder>,
    ) -> Result<ConversationConnection> {
        let caller = caller(ctx)?;
        let window = window(first, after, last, before)?;
        let node = node(ctx);
        let conversations = node.conversations();
        let mut view_filter = filter.unwrap_or_default().to_view(node, &caller)?;
        if caller.visitor_id().is_none() {
            view_filter.snoozed.get_or_insert(false);
        }
        let (order, descending) = match order_by {
            None => (ViewOrder::LastActivity, true),
            Some(order) => (
                match order.field {
                    ConversationOrderField::LastActivityAt => ViewOrder::LastActivity,
                    ConversationOrderField::CreatedAt => ViewOrder::Created,
                },
                order.direction == OrderDirection::Desc,
            ),
        };
        let page = conversations.list(
            caller.workspace_id,
            &view_filter,
            order,
            descending,
            &window,
        )?;
        Ok(ConversationConnection::new(
            page,
            &caller,
            caller.workspace_id,
            view_filter,
        ))
    }

    /// The inbox counts (team only).
    async fn conversation_counts(&self, ctx: &Context<'_>) -> Result<ConversationCounts> {
        let caller = caller(ctx)?;
        if caller.agent_id().is_none() {
            return Err(coded("FORBIDDEN", "the inbox counts are for the team"));
        }
        let counts = node(ctx)
            .conversations()
            .counts(caller.workspace_id, caller.agent_id())?;
        let n = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
        Ok(ConversationCounts {
            open: n(counts.open),
            pending: n(counts.pending),
            closed: n(counts.closed),
            unassigned: n(counts.unassigned),
            awaiting_human: n(counts.awaiting_human),
            mine: n(counts.mine),
        })
    }
}
