//! The words of the domain that events carry: roles, statuses, reasons.
//! Serialized in SCREAMING_SNAKE_CASE, as the GraphQL contract spells them.

use serde::{Deserialize, Serialize};

/// A team member's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Manages the workspace, its team, keys, settings; may erase personal data.
    Admin,
    /// Handles conversations and contacts.
    Agent,
    /// An AI assistant integration: answers visitors, requests handoff.
    Bot,
    /// Read-only access to everything, including the raw event log.
    Auditor,
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConversationStatus {
    /// Active, may need attention.
    Open,
    /// Waiting for the customer's response.
    Pending,
    /// Ended.
    Closed,
}

/// Who currently answers the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Controller {
    /// The AI assistant.
    Ai,
    /// A human agent.
    Human,
}

/// Why a human was asked to take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HandoffReason {
    /// The AI's confidence was below the workspace threshold.
    LowConfidence,
    /// The customer asked for a human.
    CustomerRequest,
    /// An orchestration rule escalated.
    Rule,
    /// An agent decided to step in.
    AgentInitiated,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorKind {
    /// The website visitor.
    Visitor,
    /// The AI assistant.
    Ai,
    /// A human agent.
    Agent,
    /// The service itself (e.g. "conversation closed: visitor blocked").
    System,
}

/// The type a custom contact field's values must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustomFieldType {
    /// Free text.
    Text,
    /// A JSON number.
    Number,
    /// true or false.
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
}

/// What starts an orchestration rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Trigger {
    /// A visitor started a conversation.
    ConversationStarted,
    /// A visitor message arrived.
    MessageReceived,
    /// A handoff to a human was requested.
    HandoffRequested,
    /// A conversation was closed.
    ConversationClosed,
}

/// What an orchestration rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionKind {
    /// Ask the visitor for their email; the next email they type identifies them.
    AskForEmail,
    /// Assign the conversation to an agent.
    AssignTo,
    /// Set the conversation's status.
    SetStatus,
    /// Request a human (handoff reason RULE).
    RequestHuman,
    /// Post a message as the service.
    SendMessage,
}
