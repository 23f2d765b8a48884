//! One conversation: its messages' effects on status, who is in control, the
//! handoff to a human, assignment, snoozing and the contact it belongs to.
//!
//! Status: a team reply (AI or agent, not an internal note) to an OPEN
//! conversation makes it PENDING; a visitor message makes a PENDING, CLOSED
//! or snoozed conversation OPEN; a handoff request makes it OPEN (someone has
//! to look). Control: the AI answers until a human takes over (who becomes
//! the assignee); under HUMAN control the AI cannot post, under AI control an
//! agent cannot answer publicly until taking over. Internal notes never
//! change anything but the timeline.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tahc_events::{
    AuthorKind, Controller, ConversationAssigned, ConversationContactLinked,
    ConversationReturnedToAi, ConversationSnoozed, ConversationStarted, ConversationStatus,
    ConversationStatusChanged, ConversationTakenOver, ConversationUnassigned, ConversationWoke,
    EmailAsked, Event, HandoffReason, HandoffRequested, MessagePosted, Personal, StreamCategory,
    StreamId,
};
use uuid::Uuid;

use crate::{Aggregate, DomainError, text};

/// Longest message body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;

/// The conversation aggregate.
pub struct Conversation;

/// The open handoff request, or the last accepted one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Handoff {
    /// Why a human was asked for.
    pub reason: HandoffReason,
    /// The agent who took over, once one did.
    pub accepted_by: Option<Uuid>,
}

/// What a conversation remembers for its decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationState {
    /// Whether the conversation exists.
    pub started: bool,
    /// The visitor who started it.
    pub visitor_id: Uuid,
    /// OPEN, PENDING or CLOSED.
    pub status: ConversationStatus,
    /// Who answers the visitor.
    pub controller: Controller,
    /// The open or last accepted handoff.
    pub handoff: Option<Handoff>,
    /// The assigned agent.
    pub assignee: Option<Uuid>,
    /// The contact it belongs to.
    pub contact_id: Option<Uuid>,
    /// Snoozed until then.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// The service asked for an email and none came yet.
    pub awaiting_email: bool,
    /// Messages by their client idempotency keys.
    pub idempotency_keys: HashMap<String, Uuid>,
}

impl Default for ConversationState {
    fn default() -> Self {
        ConversationState {
            started: false,
            visitor_id: Uuid::nil(),
            status: ConversationStatus::Open,
            controller: Controller::Ai,
            handoff: None,
            assignee: None,
            contact_id: None,
            snoozed_until: None,
            awaiting_email: false,
            idempotency_keys: HashMap::new(),
        }
    }
}

impl ConversationState {
    /// Whether a handoff was requested and nobody took over yet.
    #[must_use]
    pub fn awaiting_human(&self) -> bool {
        self.handoff.is_some_and(|h| h.accepted_by.is_none())
    }
}

/// Who writes a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Author {
    /// The conversation's visitor (checked against the conversation).
    Visitor {
        /// The writing visitor.
        visitor_id: Uuid,
    },
    /// The AI assistant, through a bot key.
    Ai {
        /// The bot's agent id.
        bot_id: Uuid,
        /// How sure the model is (0..1); below the workspace threshold a
        /// human is requested automatically.
        confidence: Option<f64>,
    },
    /// A human agent.
    Agent {
        /// The agent.
        agent_id: Uuid,
    },
    /// The service itself.
    System,
}

/// A message to post.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Its id, chosen by the caller (deterministic ids make retries safe).
    pub message_id: Uuid,
    /// Who writes it.
    pub author: Author,
    /// The text.
    pub body: String,
    /// An internal note the visitor never sees (team only).
    pub internal: bool,
    /// Retrying with the same key never posts twice.
    pub idempotency_key: Option<String>,
}

/// An agent named as assignee, with what the workspace knows of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignee {
    /// The agent.
    pub agent_id: Uuid,
    /// Whether they are an active agent of this workspace.
    pub active: bool,
}

/// What can be asked of a conversation. Fields named as facts are looked up
/// by the application from other aggregates.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A visitor starts a conversation with its first message.
    Start {
        /// The visitor.
        visitor_id: Uuid,
        /// The first message's id.
        message_id: Uuid,
        /// The first message.
        body: String,
        /// Fact: the visitor is blocked.
        visitor_blocked: bool,
        /// Fact: the workspace has AI enabled (the AI answers first).
        ai_enabled: bool,
    },
    /// Someone posts a message.
    Post {
        /// The message.
        message: NewMessage,
        /// Fact: the visitor is blocked.
        visitor_blocked: bool,
        /// Fact: the workspace's AI confidence threshold.
        ai_confidence_threshold: f64,
    },
    /// The visitor, the AI or a rule asks for a human.
    RequestHuman {
        /// Why.
        reason: HandoffReason,
    },
    /// An agent takes control from the AI and becomes the assignee.
    TakeOver {
        /// The agent.
        agent_id: Uuid,
    },
    /// An agent gives control back to the AI.
    ReturnToAi {
        /// Fact: the workspace has AI enabled.
        ai_enabled: bool,
    },
    /// Assign to an agent, or unassign with `None`.
    Assign {
        /// The new assignee.
        assignee: Option<Assignee>,
    },
    /// Set the status explicitly (close, reopen, mark pending).
    SetStatus {
        /// The new status.
        status: ConversationStatus,
    },
    /// Hide the conversation until a time.
    Snooze {
        /// When it wakes.
        until: DateTime<Utc>,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// Wake the conversation if its snooze time has come (timer).
    Wake {
        /// The current time.
        now: DateTime<Utc>,
    },
    /// Ask the visitor for an email (orchestration rule).
    AskForEmail {
        /// The question's message id.
        message_id: Uuid,
        /// The question.
        question: String,
    },
    /// The conversation now belongs to a contact.
    LinkContact {
        /// The contact.
        contact_id: Uuid,
    },
    /// The visitor was blocked: close with a note the team sees.
    CloseForBlockedVisitor {
        /// The note's message id.
        message_id: Uuid,
        /// The blocking reason, if one was given.
        reason: Option<String>,
    },
    /// An agent was deactivated: their conversations lose their assignee.
    ReleaseAgent {
        /// The deactivated agent.
        agent_id: Uuid,
    },
}

impl Aggregate for Conversation {
    type State = ConversationState;
    type Command = Command;

    /// A conversation's messages are its visitor's personal data.
    fn subject(_stream: &StreamId, state: &ConversationState) -> Option<StreamId> {
        state
            .started
            .then(|| StreamId::of(StreamCategory::Visitor, state.visitor_id))
    }

    fn decide(state: &ConversationState, command: Command) -> Result<Vec<Event>, DomainError> {
        if let Command::Start {
            visitor_id,
            message_id,
            body,
            visitor_blocked,
            ai_enabled,
        } = command
        {
            return start(
                state,
                visitor_id,
                message_id,
                body,
                visitor_blocked,
                ai_enabled,
            );
        }
        if !state.started {
            return Err(DomainError::NotFound {
                what: "conversation",
            });
        }
        match command {
            Command::Start { .. } => unreachable!("handled above"),
            Command::Post {
                message,
                visitor_blocked,
                ai_confidence_threshold,
            } => post(state, message, visitor_blocked, ai_confidence_threshold),
            Command::RequestHuman { reason } => request_human(state, reason),
            Command::TakeOver { agent_id } => take_over(state, agent_id),
            Command::ReturnToAi { ai_enabled } => return_to_ai(state, ai_enabled),
            Command::Assign { assignee } => assign(state, assignee),
            Command::SetStatus { status } => Ok(set_status(state, status)),
            Command::Snooze { until, now } => snooze(state, until, now),
            Command::Wake { now } => Ok(wake(state, now)),
            Command::AskForEmail {
                message_id,
                question,
            } => ask_for_email(state, message_id, question),
            Command::LinkContact { contact_id } => Ok(link_contact(state, contact_id)),
            Command::CloseForBlockedVisitor { message_id, reason } => {
                Ok(close_for_blocked_visitor(state, message_id, reason))
            }
            Command::ReleaseAgent { agent_id } => Ok(release_agent(state, agent_id)),
        }
    }

    fn evolve(mut state: ConversationState, event: &Event) -> ConversationState {
        match event {
            Event::ConversationStarted(e) => {
                state.started = true;
                state.visitor_id = e.visitor_id;
                state.controller = e.controller;
                state.status = ConversationStatus::Open;
            }
            Event::MessagePosted(e) => {
                if let Some(key) = &e.idempotency_key {
                    state.idempotency_keys.insert(key.clone(), e.message_id);
                }
            }
            Event::ConversationStatusChanged(e) => state.status = e.to,
            Event::ConversationSnoozed(e) => state.snoozed_until = Some(e.until),
            Event::ConversationWoke(_) => state.snoozed_until = None,
            Event::ConversationAssigned(e) => state.assignee = Some(e.agent_id),
            Event::ConversationUnassigned(_) => state.assignee = None,
            Event::HandoffRequested(e) => {
                state.handoff = Some(Handoff {
                    reason: e.reason,
                    accepted_by: None,
                });
            }
            Event::ConversationTakenOver(e) => {
                state.controller = Controller::Human;
                state.assignee = Some(e.agent_id);
                if let Some(handoff) = &mut state.handoff {
                    handoff.accepted_by = Some(e.agent_id);
                }
            }
            Event::ConversationReturnedToAi(_) => state.controller = Controller::Ai,
            Event::EmailAsked(_) => state.awaiting_email = true,
            Event::ConversationContactLinked(e) => {
                state.contact_id = Some(e.contact_id);
                state.awaiting_email = false;
            }
            _ => {}
        }
        state
    }
}

fn start(
    state: &ConversationState,
    visitor_id: Uuid,
    message_id: Uuid,
    body: String,
    visitor_blocked: bool,
    ai_enabled: bool,
) -> Result<Vec<Event>, DomainError> {
    if state.started {
        return Err(DomainError::AlreadyExists {
            what: "conversation",
        });
    }
    if visitor_blocked {
        return Err(DomainError::Blocked);
    }
    let body = checked_body(body)?;
    let controller = if ai_enabled {
        Controller::Ai
    } else {
        Controller::Human
    };
    Ok(vec![
        ConversationStarted {
            visitor_id,
            controller,
        }
        .into(),
        message(
            message_id,
            AuthorKind::Visitor,
            None,
            body,
            false,
            None,
            None,
        ),
    ])
}

fn post(
    state: &ConversationState,
    new: NewMessage,
    visitor_blocked: bool,
    threshold: f64,
) -> Result<Vec<Event>, DomainError> {
    if let Some(key) = &new.idempotency_key {
        if key.is_empty() || key.len() > 255 {
            return Err(DomainError::invalid(
                "idempotencyKey",
                "must be 1 to 255 characters",
            ));
        }
        if state.idempotency_keys.contains_key(key) {
            return Ok(Vec::new());
        }
    }
    let body = checked_body(new.body)?;
    let NewMessage {
        message_id,
        internal,
        idempotency_key,
        ..
    } = new;
    let mut events = Vec::new();
    match new.author {
        Author::Visitor { visitor_id } => {
            if visitor_id != state.visitor_id {
                return Err(DomainError::Forbidden {
                    reason: "a visitor may only write in its own conversations",
                });
            }
            if visitor_blocked {
                return Err(DomainError::Blocked);
            }
            if internal {
                return Err(DomainError::invalid(
                    "internal",
                    "visitors cannot write internal notes",
                ));
            }
            let posted = message(
                message_id,
                AuthorKind::Visitor,
                None,
                body,
                false,
                None,
                idempotency_key,
            );
            events.push(posted);
            events.extend(reopen(state));
        }
        Author::Ai { bot_id, confidence } => {
            if state.controller == Controller::Human {
                return Err(DomainError::NotInControl {
                    controller: Controller::Human,
                });
            }
            if let Some(c) = confidence
                && !(0.0..=1.0).contains(&c)
            {
                return Err(DomainError::invalid(
                    "confidence",
                    "must be between 0 and 1",
                ));
            }
            if !internal && state.status == ConversationStatus::Closed {
                return Err(DomainError::WrongStatus {
                    action: "reply to",
                    status: state.status,
                });
            }
            events.push(message(
                message_id,
                AuthorKind::Ai,
                Some(bot_id),
                body,
                internal,
                confidence,
                idempotency_key,
            ));
            let unsure = confidence.is_some_and(|c| c < threshold);
            if !internal && unsure && !state.awaiting_human() {
                events.push(
                    HandoffRequested {
                        reason: HandoffReason::LowConfidence,
                    }
                    .into(),
                );
                events.extend(status_change(state.status, ConversationStatus::Open));
            } else if !internal {
                events.extend(team_replied(state));
            }
        }
        Author::Agent { agent_id } => {
            if !internal {
                if state.controller == Controller::Ai {
                    return Err(DomainError::NotInControl {
                        controller: Controller::Ai,
                    });
                }
                if state.status == ConversationStatus::Closed {
                    return Err(DomainError::WrongStatus {
                        action: "reply to",
                        status: state.status,
                    });
                }
            }
            events.push(message(
                message_id,
                AuthorKind::Agent,
                Some(agent_id),
                body,
                internal,
                None,
                idempotency_key,
            ));
            if !internal {
                events.extend(team_replied(state));
            }
        }
        Author::System => events.push(message(
            message_id,
            AuthorKind::System,
            None,
            body,
            internal,
            None,
            idempotency_key,
        )),
    }
    Ok(events)
}

fn request_human(
    state: &ConversationState,
    reason: HandoffReason,
) -> Result<Vec<Event>, DomainError> {
    if state.status == ConversationStatus::Closed {
        return Err(DomainError::WrongStatus {
            action: "request a human for",
            status: state.status,
        });
    }
    if state.controller == Controller::Human {
        return Err(DomainError::InvalidTransition {
            action: "request a human",
            reason: "a human is already in control",
        });
    }
    if state.awaiting_human() {
        return Ok(Vec::new());
    }
    let mut events = vec![HandoffRequested { reason }.into()];
    events.extend(status_change(state.status, ConversationStatus::Open));
    Ok(events)
}

fn take_over(state: &ConversationState, agent_id: Uuid) -> Result<Vec<Event>, DomainError> {
    if state.status == ConversationStatus::Closed {
        return Err(DomainError::WrongStatus {
            action: "take over",
            status: state.status,
        });
    }
    if state.controller == Controller::Human {
        if state.assignee == Some(agent_id) {
            return Ok(Vec::new());
        }
        return Err(DomainError::InvalidTransition {
            action: "take over",
            reason: "a human is already in control; assign the conversation instead",
        });
    }
    let mut events = Vec::new();
    if !state.awaiting_human() {
        events.push(
            HandoffRequested {
                reason: HandoffReason::AgentInitiated,
            }
            .into(),
        );
    }
    events.push(ConversationTakenOver { agent_id }.into());
    Ok(events)
}

fn return_to_ai(state: &ConversationState, ai_enabled: bool) -> Result<Vec<Event>, DomainError> {
    if state.controller == Controller::Ai {
        return Err(DomainError::InvalidTransition {
            action: "return to the AI",
            reason: "the AI is already in control",
        });
    }
    if !ai_enabled {
        return Err(DomainError::InvalidTransition {
            action: "return to the AI",
            reason: "AI is disabled in this workspace",
        });
    }
    Ok(vec![ConversationReturnedToAi {}.into()])
}

fn assign(
    state: &ConversationState,
    assignee: Option<Assignee>,
) -> Result<Vec<Event>, DomainError> {
    match assignee {
        Some(a) if !a.active => Err(DomainError::invalid(
            "assigneeId",
            "not an active agent of this workspace",
        )),
        Some(a) if state.assignee == Some(a.agent_id) => Ok(Vec::new()),
        Some(a) => Ok(vec![
            ConversationAssigned {
                agent_id: a.agent_id,
            }
            .into(),
        ]),
        None if state.assignee.is_none() => Ok(Vec::new()),
        None => Ok(vec![ConversationUnassigned {}.into()]),
    }
}

fn set_status(state: &ConversationState, status: ConversationStatus) -> Vec<Event> {
    if state.status == status {
        return Vec::new();
    }
    // An explicit status ends a snooze.
    let mut events: Vec<Event> = Vec::new();
    if state.snoozed_until.is_some() {
        events.push(ConversationWoke {}.into());
    }
    events.extend(status_change(state.status, status));
    events
}

fn snooze(
    state: &ConversationState,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    if state.status == ConversationStatus::Closed {
        return Err(DomainError::WrongStatus {
            action: "snooze",
            status: state.status,
        });
    }
    if until <= now {
        return Err(DomainError::invalid("until", "must be in the future"));
    }
    Ok(vec![ConversationSnoozed { until }.into()])
}

fn wake(state: &ConversationState, now: DateTime<Utc>) -> Vec<Event> {
    match state.snoozed_until {
        Some(until) if until <= now => {
            let mut events = vec![ConversationWoke {}.into()];
            events.extend(status_change(state.status, ConversationStatus::Open));
            events
        }
        _ => Vec::new(),
    }
}

fn ask_for_email(
    state: &ConversationState,
    message_id: Uuid,
    question: String,
) -> Result<Vec<Event>, DomainError> {
    if state.contact_id.is_some()
        || state.awaiting_email
        || state.status == ConversationStatus::Closed
    {
        return Ok(Vec::new());
    }
    let question = checked_body(question)?;
    Ok(vec![
        message(
            message_id,
            AuthorKind::System,
            None,
            question,
            false,
            None,
            None,
        ),
        EmailAsked {}.into(),
    ])
}

fn link_contact(state: &ConversationState, contact_id: Uuid) -> Vec<Event> {
    if state.contact_id == Some(contact_id) {
        return Vec::new();
    }
    vec![ConversationContactLinked { contact_id }.into()]
}

fn close_for_blocked_visitor(
    state: &ConversationState,
    message_id: Uuid,
    reason: Option<String>,
) -> Vec<Event> {
    if state.status == ConversationStatus::Closed {
        return Vec::new();
    }
    let note = match reason.as_deref().map(str::trim) {
        Some(reason) if !reason.is_empty() => {
            format!("Conversation closed: the visitor was blocked ({reason}).")
        }
        _ => "Conversation closed: the visitor was blocked.".to_owned(),
    };
    let mut events = vec![message(
        message_id,
        AuthorKind::System,
        None,
        note,
        true,
        None,
        None,
    )];
    events.extend(set_status(state, ConversationStatus::Closed));
    events
}

fn release_agent(state: &ConversationState, agent_id: Uuid) -> Vec<Event> {
    if state.assignee == Some(agent_id) {
        vec![ConversationUnassigned {}.into()]
    } else {
        Vec::new()
    }
}

/// A visitor wrote: a snoozed conversation wakes, a non-open one reopens.
fn reopen(state: &ConversationState) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    if state.snoozed_until.is_some() {
        events.push(ConversationWoke {}.into());
    }
    events.extend(status_change(state.status, ConversationStatus::Open));
    events
}

/// A public team reply to an OPEN conversation waits for the customer.
fn team_replied(state: &ConversationState) -> Option<Event> {
    (state.status == ConversationStatus::Open)
        .then(|| status_change(state.status, ConversationStatus::Pending))
        .flatten()
}

fn status_change(from: ConversationStatus, to: ConversationStatus) -> Option<Event> {
    (from != to).then(|| ConversationStatusChanged { from, to }.into())
}

fn checked_body(body: String) -> Result<String, DomainError> {
    text::verbatim(body, "body", MAX_BODY_CHARS)
}

fn message(
    message_id: Uuid,
    author_kind: AuthorKind,
    agent_id: Option<Uuid>,
    body: String,
    internal: bool,
    confidence: Option<f64>,
    idempotency_key: Option<String>,
) -> Event {
    MessagePosted {
        message_id,
        author_kind,
        agent_id,
        body: Personal::Plain(body),
        internal,
        confidence,
        idempotency_key,
    }
    .into()
}

#[cfg(test)]
mod tests;
