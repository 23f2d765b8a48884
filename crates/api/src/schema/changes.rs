//! What live subscribers receive: a change to a conversation or a contact,
//! read from one event of the log and shown as its subscriber may see it.

use async_graphql::{Enum, Object, Result, SimpleObject};
use tahc_app::{Node, Principal};
use tahc_events::{Event, Position, RecordedEvent, StreamCategory};
use uuid::Uuid;

use super::contacts::Contact;
use super::query::ConversationFilter;
use super::types::{Conversation, Message};

/// What happened to a conversation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ConversationChangeKind {
    Created,
    MessageAdded,
    StatusChanged,
    Assigned,
    HandoffRequested,
    TakenOver,
    ReturnedToAi,
    ContactLinked,
    Snoozed,
}

impl ConversationChangeKind {
    /// The kind of change an event of a conversation stream makes; `None`
    /// for events no subscriber is told about (an email request is shown
    /// by the message that asks it).
    #[must_use]
    pub fn of(event: &Event) -> Option<Self> {
        Some(match event {
            Event::ConversationStarted(_) => Self::Created,
            Event::MessagePosted(_) => Self::MessageAdded,
            Event::ConversationStatusChanged(_) | Event::ConversationWoke(_) => Self::StatusChanged,
            Event::ConversationAssigned(_) | Event::ConversationUnassigned(_) => Self::Assigned,
            Event::HandoffRequested(_) => Self::HandoffRequested,
            Event::ConversationTakenOver(_) => Self::TakenOver,
            Event::ConversationReturnedToAi(_) => Self::ReturnedToAi,
            Event::ConversationContactLinked(_) => Self::ContactLinked,
            Event::ConversationSnoozed(_) => Self::Snoozed,
            _ => return None,
        })
    }
}

/// A change to a conversation, with the conversation as it is now.
pub struct ConversationChange {
    kind: ConversationChangeKind,
    position: Position,
    conversation: Conversation,
    message: Option<Message>,
}

#[Object]
impl ConversationChange {
    async fn kind(&self) -> ConversationChangeKind {
        self.kind
    }
    /// Log position of the event; pass it as `after` to resume with nothing
    /// lost and nothing twice.
    async fn position(&self) -> String {
        self.position.to_string()
    }
    async fn conversation(&self) -> &Conversation {
        &self.conversation
    }
    /// Set for MESSAGE_ADDED.
    async fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }
}

/// Which conversation changes a subscriber receives.
pub struct ConversationWatch {
    /// Who subscribed.
    pub caller: Principal,
    /// One conversation only (a timeline).
    pub conversation: Option<Uuid>,
    /// The inbox filter, judged on the conversation as it is now.
    pub filter: ConversationFilter,
}

impl ConversationWatch {
    /// The change `record` makes, if `caller` may see it and it passes the
    /// filter: a conversation of the caller's workspace (its own, for a
    /// visitor), never an internal note for a visitor.
    pub fn change(
        &self,
        node: &Node,
        record: &RecordedEvent,
    ) -> Result<Option<ConversationChange>> {
        let caller = &self.caller;
        if record.workspace_id != caller.workspace_id {
            return Ok(None);
        }
        let Some((StreamCategory::Conversation, id)) = record.stream_id.parse() else {
            return Ok(None);
        };
        if self.conversation.is_some_and(|only| only != id) {
            return Ok(None);
        }
        let Ok(event) = record.decode() else {
            return Ok(None);
        };
        let Some(kind) = ConversationChangeKind::of(&event) else {
            return Ok(None);
        };
        let message = match &event {
            Event::MessagePosted(posted) if posted.internal && caller.visitor_id().is_some() => {
                return Ok(None);
            }
            Event::MessagePosted(posted) => node
                .conversations()
                .message_by_id(posted.message_id)?
                .map(|record| Message {
                    record,
                    workspace: caller.workspace_id,
                }),
            _ => None,
        };
        let Some(conversation) = node.conversations().get(id)? else {
            return Ok(None);
        };
        if !self.filter.to_view(node, caller)?.matches(&conversation) {
            return Ok(None);
        }
        Ok(Some(ConversationChange {
            kind,
            position: record.position,
            conversation: Conversation::for_caller(conversation, caller),
            message,
        }))
    }
}

/// A change to a contact, with the contact as it is now.
#[derive(SimpleObject)]
pub struct ContactChange {
    /// Log position of the event (resume with `after`).
    position: String,
    contact: Contact,
    /// CREATED | UPDATED | MERGED | ERASED | NOTE_CHANGED | FIELD_CHANGED
    kind: String,
}

/// The kind of change an event of a contact stream makes.
fn contact_change_kind(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::ContactCreated(_) => "CREATED",
        Event::ContactUpdated(_) | Event::ContactVisitorLinked(_) => "UPDATED",
        Event::ContactMerged(_) => "MERGED",
        Event::ContactErased(_) => "ERASED",
        Event::ContactNoteAdded(_) | Event::ContactNoteEdited(_) | Event::ContactNoteDeleted(_) => {
            "NOTE_CHANGED"
        }
        Event::ContactCustomFieldSet(_) => "FIELD_CHANGED",
        _ => return None,
    })
}

/// The contact change `record` makes in `caller`'s workspace.
pub fn contact_change(
    node: &Node,
    caller: &Principal,
    record: &RecordedEvent,
) -> Result<Option<ContactChange>> {
    if record.workspace_id != caller.workspace_id {
        return Ok(None);
    }
    let Some((StreamCategory::Contact, id)) = record.stream_id.parse() else {
        return Ok(None);
    };
    let Some(kind) = record.decode().ok().as_ref().and_then(contact_change_kind) else {
        return Ok(None);
    };
    let Some(contact) = node.contacts().get(id)? else {
        return Ok(None);
    };
    Ok(Some(ContactChange {
        position: record.position.to_string(),
        contact: Contact(contact),
        kind: kind.to_owned(),
    }))
}
