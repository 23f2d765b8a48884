//! Payloads of the conversation stream: messages, status, control and
//! handoff.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Personal;
use crate::vocabulary::{AuthorKind, Controller, ConversationStatus, HandoffReason};

/// A visitor started a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationStarted {
    /// The visitor.
    pub visitor_id: Uuid,
    /// Who answers first: AI when the workspace has AI enabled.
    pub controller: Controller,
}

/// A message was posted (schema v2; v1 is upcast, see `upcast`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePosted {
    /// The message.
    pub message_id: Uuid,
    /// Who wrote it.
    pub author_kind: AuthorKind,
    /// The agent, for AGENT messages (and the bot's agent id for AI).
    pub agent_id: Option<Uuid>,
    /// The text.
    pub body: Personal,
    /// An internal note the visitor never sees.
    pub internal: bool,
    /// For AI messages: the model's confidence (0..1).
    pub confidence: Option<f64>,
    /// The client's key: retrying with it never posts twice.
    pub idempotency_key: Option<String>,
}

/// The status changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationStatusChanged {
    /// Before.
    pub from: ConversationStatus,
    /// After.
    pub to: ConversationStatus,
}

/// The conversation was snoozed until a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSnoozed {
    /// When it wakes up.
    pub until: DateTime<Utc>,
}

/// A snoozed conversation woke up (its time came, or the visitor wrote).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationWoke {}

/// The conversation was assigned to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationAssigned {
    /// The assignee.
    pub agent_id: Uuid,
}

/// The conversation lost its assignee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationUnassigned {}

/// A human was requested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffRequested {
    /// Why.
    pub reason: HandoffReason,
}

/// An agent took over from the AI and became the assignee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationTakenOver {
    /// The agent.
    pub agent_id: Uuid,
}

/// An agent gave control back to the AI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationReturnedToAi {}

/// The service asked the visitor for their email; the next email the visitor
/// types identifies them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailAsked {}

/// The conversation now belongs to a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationContactLinked {
    /// The contact.
    pub contact_id: Uuid,
}
