//! Global object identification (Relay): `node(id)` and `nodes(ids)` find
//! any entity by its opaque id, with the same visibility as the typed
//! queries — what the caller may not see is null, never an error that
//! would hint it exists.

use async_graphql::{Context, ID, Interface, Object, Result};
use tahc_app::Principal;
use uuid::Uuid;

use super::caller;
use super::contacts::{Contact, ContactNote, OrchestrationRule};
use super::ids;
use super::query::visible_conversation;
use super::types::{
    Agent, Conversation, Message, Visitor, Workspace, agent, node, visible_visitor,
};

/// Every entity with a global id.
#[derive(Interface)]
#[graphql(name = "Node", field(name = "id", ty = "ID"))]
#[allow(missing_docs)]
pub enum NodeInterface {
    Agent(Agent),
    Workspace(Workspace),
    Message(Message),
    Conversation(Conversation),
    Visitor(Visitor),
    Contact(Contact),
    ContactNote(ContactNote),
    OrchestrationRule(OrchestrationRule),
}

/// Most ids one `nodes` call resolves.
pub const MAX_NODES: usize = 100;

/// The entity behind a global id, if `caller` may see it.
fn find(ctx: &Context<'_>, caller: &Principal, id: &ID) -> Result<Option<NodeInterface>> {
    let Some((kind, uuid)) = ids::parse(id) else {
        return Ok(None);
    };
    let node = node(ctx);
    let workspace = caller.workspace_id;
    let team = caller.agent_id().is_some();
    let found = match kind.as_str() {
        "Conversation" => visible_conversation(ctx, caller, uuid)?.map(NodeInterface::Conversation),
        "Message" => message(ctx, caller, uuid)?.map(NodeInterface::Message),
        "Agent" => agent(ctx, workspace, Some(uuid))?.map(NodeInterface::Agent),
        "Workspace" => (uuid == workspace)
            .then(|| node.team().workspace(uuid))
            .transpose()?
            .flatten()
            .map(|w| NodeInterface::Workspace(Workspace(w))),
        "Visitor" => visible_visitor(ctx, caller, uuid)?.map(NodeInterface::Visitor),
        "Contact" if team => node
            .contacts()
            .get(uuid)?
            .filter(|c| c.workspace_id == workspace)
            .map(|c| NodeInterface::Contact(Contact(c))),
        "ContactNote" if team => note(ctx, workspace, uuid)?.map(NodeInterface::ContactNote),
        "OrchestrationRule" if team => node
            .team()
            .workspace(workspace)?
            .and_then(|w| w.rules.get(&uuid).cloned())
            .map(|record| {
                NodeInterface::OrchestrationRule(OrchestrationRule { record, workspace })
            }),
        _ => None,
    };
    Ok(found)
}

/// A message, if its conversation is visible and (for a visitor) it is
/// not an internal note.
fn message(ctx: &Context<'_>, caller: &Principal, id: Uuid) -> Result<Option<Message>> {
    let Some(record) = node(ctx).conversations().message_by_id(id)? else {
        return Ok(None);
    };
    let visible = visible_conversation(ctx, caller, record.conversation_id)?.is_some()
        && !(record.internal && caller.visitor_id().is_some());
    Ok(visible.then_some(Message {
        record,
        workspace: caller.workspace_id,
    }))
}

/// A note of a contact of `workspace`.
fn note(ctx: &Context<'_>, workspace: Uuid, id: Uuid) -> Result<Option<ContactNote>> {
    let contacts = node(ctx).contacts();
    let Some(contact_id) = contacts.note_contact(id)? else {
        return Ok(None);
    };
    Ok(contacts
        .get(contact_id)?
        .filter(|c| c.workspace_id == workspace)
        .and_then(|c| c.notes.get(&id).cloned())
        .map(|record| ContactNote { record, workspace }))
}

/// `node` and `nodes`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any entity by its global id; null when absent or not visible.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<NodeInterface>> {
        let caller = caller(ctx)?;
        find(ctx, &caller, &id)
    }

    /// Several entities by global id, in the order asked (at most 100).
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<NodeInterface>>> {
        let caller = caller(ctx)?;
        if ids.len() > MAX_NODES {
            return Err(super::errors::coded(
                "BAD_USER_INPUT",
                format!("at most {MAX_NODES} ids at once"),
            ));
        }
        ids.iter().map(|id| find(ctx, &caller, id)).collect()
    }
}
