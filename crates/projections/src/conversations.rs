//! The conversations view: each conversation's current state, its messages,
//! and the per-workspace indexes the inbox is paged through.
//!
//! Keys (all ids 16 bytes, times µs and positions big-endian u64):
//!
//! | key | value |
//! |---|---|
//! | `c` conversation | [`ConversationRecord`] (JSON) |
//! | `m` conversation position | [`MessageRecord`] (JSON), every message |
//! | `p` conversation position | empty: the public messages, a visitor's timeline |
//! | `o` order workspace key conversation | empty: all of a workspace's conversations |
//! | `O` order workspace status key conversation | empty: the same, per status |
//! | `w` workspace word 0x00 conversation | empty: words of public messages |
//! | `W` workspace word 0x00 conversation | empty: words of internal notes |
//! | `k` workspace counter | u64: the inbox counts |
//! | `v` visitor conversation | empty: a visitor's conversations |
//! | `x` contact conversation | empty: a contact's conversations |
//!
//! `order` is `a` (last activity) or `n` (creation), `key` the time in µs
//! with its sign bit flipped, so that keys sort like times.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tahc_events::{
    AuthorKind, ContactErased, Controller, ConversationStatus, Event, HandoffReason, Position,
    RecordedEvent,
};
use uuid::Uuid;

use crate::projection::Projector;
pub(crate) use crate::view::read;
use crate::view::{View, ViewChanges, ViewError, json};

/// A handoff as the inbox shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffRecord {
    /// Why a human was asked for.
    pub reason: HandoffReason,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Who took over, once someone did.
    pub accepted_by: Option<Uuid>,
    /// When they did.
    pub accepted_at: Option<DateTime<Utc>>,
}

/// One message of a timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The message.
    pub id: Uuid,
    /// Its conversation.
    pub conversation_id: Uuid,
    /// Who wrote it.
    pub author_kind: AuthorKind,
    /// The agent (or bot) who wrote it.
    pub agent_id: Option<Uuid>,
    /// The text; `None` once erased.
    pub body: Option<String>,
    /// Team only.
    pub internal: bool,
    /// The AI's confidence.
    pub confidence: Option<f64>,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
    /// The log position of its event.
    pub position: Position,
}

/// A conversation as the inbox shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    /// The conversation.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// Its visitor.
    pub visitor_id: Uuid,
    /// The contact it belongs to.
    pub contact_id: Option<Uuid>,
    /// OPEN, PENDING or CLOSED.
    pub status: ConversationStatus,
    /// Who answers.
    pub controller: Controller,
    /// The open or last accepted handoff.
    pub handoff: Option<HandoffRecord>,
    /// The assigned agent.
    pub assignee: Option<Uuid>,
    /// The most recent public message.
    pub last_message: Option<MessageRecord>,
    /// The time of the last public message (or the start).
    pub last_activity_at: DateTime<Utc>,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it was last closed, while closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Snoozed until then.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// Every message, notes included (the team's count).
    pub message_count: u32,
    /// Public messages only (the visitor's count).
    pub public_message_count: u32,
    /// Public AI replies.
    pub ai_message_count: u32,
    /// Public agent replies.
    pub human_message_count: u32,
    /// The log position of the last event that changed it.
    pub position: Position,
}

impl ConversationRecord {
    /// Whether a handoff was requested and nobody took over yet.
    #[must_use]
    pub fn awaiting_human(&self) -> bool {
        self.handoff
            .as_ref()
            .is_some_and(|h| h.accepted_by.is_none())
    }
}

/// The sort orders of the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationOrder {
    /// By the time of the last public message.
    LastActivity,
    /// By start time.
    Created,
}

impl ConversationOrder {
    fn tag(self) -> u8 {
        match self {
            ConversationOrder::LastActivity => b'a',
            ConversationOrder::Created => b'n',
        }
    }

    /// The time a record sorts by.
    #[must_use]
    pub fn key(self, record: &ConversationRecord) -> DateTime<Utc> {
        match self {
            ConversationOrder::LastActivity => record.last_activity_at,
            ConversationOrder::Created => record.created_at,
        }
    }
}

pub(crate) fn status_tag(status: ConversationStatus) -> u8 {
    match status {
        ConversationStatus::Open => b'o',
        ConversationStatus::Pending => b'p',
        ConversationStatus::Closed => b'c',
    }
}

pub(crate) fn record_key(conversation: Uuid) -> Vec<u8> {
    [&b"c"[..], conversation.as_bytes()].concat()
}

pub(crate) fn message_key(public: bool, conversation: Uuid, position: Position) -> Vec<u8> {
    [
        messages_prefix(public, conversation),
        position.0.to_be_bytes().to_vec(),
    ]
    .concat()
}

/// Where a conversation's messages (`public`: only those a visitor sees)
/// are listed.
pub(crate) fn messages_prefix(public: bool, conversation: Uuid) -> Vec<u8> {
    let tag: &[u8] = if public { b"p" } else { b"m" };
    [tag, conversation.as_bytes()].concat()
}

/// Where a message's id leads: the key of its record (`message_key`).
pub(crate) fn message_id_key(message: Uuid) -> Vec<u8> {
    [&b"i"[..], message.as_bytes()].concat()
}

/// The start of a workspace's index for `order` (and `status`).
pub(crate) fn order_prefix(
    order: ConversationOrder,
    workspace: Uuid,
    status: Option<ConversationStatus>,
) -> Vec<u8> {
    match status {
        None => [&b"o"[..], &[order.tag()], workspace.as_bytes()].concat(),
        Some(status) => [
            &b"O"[..],
            &[order.tag()],
            workspace.as_bytes(),
            &[status_tag(status)],
        ]
        .concat(),
    }
}

/// The index key of a record under `order` (and `status`).
pub(crate) fn order_key(
    order: ConversationOrder,
    status: Option<ConversationStatus>,
    record: &ConversationRecord,
) -> Vec<u8> {
    let mut key = order_prefix(order, record.workspace_id, status);
    key.extend_from_slice(&sortable(order.key(record)));
    key.extend_from_slice(record.id.as_bytes());
    key
}

/// A time as bytes that sort like the time (sign bit flipped).
pub(crate) fn sortable(at: DateTime<Utc>) -> [u8; 8] {
    ((at.timestamp_micros() as u64) ^ (1 << 63)).to_be_bytes()
}

/// Whose conversations a membership index lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A visitor's.
    Visitor(Uuid),
    /// A contact's.
    Contact(Uuid),
}

/// Where an owner's conversations are listed (the key ends with each id).
pub(crate) fn owner_prefix(owner: Owner) -> Vec<u8> {
    match owner {
        Owner::Visitor(id) => [&b"v"[..], id.as_bytes()].concat(),
        Owner::Contact(id) => [&b"x"[..], id.as_bytes()].concat(),
    }
}

fn index_keys(record: &ConversationRecord) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = [ConversationOrder::LastActivity, ConversationOrder::Created]
        .into_iter()
        .flat_map(|order| {
            [
                order_key(order, None, record),
                order_key(order, Some(record.status), record),
            ]
        })
        .collect();
    let owners = std::iter::once(Owner::Visitor(record.visitor_id))
        .chain(record.contact_id.map(Owner::Contact));
    keys.extend(owners.map(|owner| [owner_prefix(owner), record.id.as_bytes().to_vec()].concat()));
    keys
}

/// The word index entry of `word` in a conversation (`notes`: from an
/// internal note, searchable by the team only).
pub(crate) fn word_key(notes: bool, workspace: Uuid, word: &str, conversation: Uuid) -> Vec<u8> {
    [
        &word_prefix(notes, workspace, word)[..],
        &[0],
        conversation.as_bytes(),
    ]
    .concat()
}

/// Where words starting with `word` are indexed.
pub(crate) fn word_prefix(notes: bool, workspace: Uuid, word: &str) -> Vec<u8> {
    let tag: &[u8] = if notes { b"W" } else { b"w" };
    [tag, workspace.as_bytes(), word.as_bytes()].concat()
}

/// The key of one of a workspace's inbox counters.
pub(crate) fn counter_key(workspace: Uuid, counter: &[u8]) -> Vec<u8> {
    [&b"k"[..], workspace.as_bytes(), counter].concat()
}

/// The counters a conversation adds one to: none while it is snoozed
/// (snooze hides it from the inbox until it wakes).
fn counters(record: &ConversationRecord) -> Vec<Vec<u8>> {
    if record.snoozed_until.is_some() {
        return Vec::new();
    }
    let mut counted = vec![vec![status_tag(record.status)]];
    if record.status != ConversationStatus::Closed {
        if let Some(agent) = record.assignee {
            counted.push([&b"m"[..], agent.as_bytes()].concat());
        } else {
            counted.push(b"u".to_vec());
        }
        if record.awaiting_human() {
            counted.push(b"h".to_vec());
        }
    }
    counted
        .into_iter()
        .map(|counter| counter_key(record.workspace_id, &counter))
        .collect()
}

/// Moves the counters from `before` to `after`.
fn count(
    view: &View,
    before: Option<&ConversationRecord>,
    after: &ConversationRecord,
    changes: &mut ViewChanges,
) -> Result<(), ViewError> {
    let mut deltas: std::collections::BTreeMap<Vec<u8>, i64> = std::collections::BTreeMap::new();
    for key in before.map(counters).unwrap_or_default() {
        *deltas.entry(key).or_default() -= 1;
    }
    for key in counters(after) {
        *deltas.entry(key).or_default() += 1;
    }
    for (key, delta) in deltas.into_iter().filter(|(_, d)| *d != 0) {
        let current = view
            .get(&key)?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        changes.put(&key, current.saturating_add_signed(delta).to_be_bytes());
    }
    Ok(())
}

/// Scrubs the message bodies (and their search words) of every conversation
/// of an erased contact and its visitors: exactly what a rebuild, reading
/// those bodies as erased, would have written.
fn erase(
    record: &RecordedEvent,
    erased: &ContactErased,
    view: &View,
    changes: &mut ViewChanges,
) -> Result<(), ViewError> {
    let Some((_, contact)) = record.stream_id.parse() else {
        return Ok(());
    };
    let owners = std::iter::once(Owner::Contact(contact))
        .chain(erased.visitor_ids.iter().copied().map(Owner::Visitor));
    let mut conversations = std::collections::BTreeSet::new();
    for owner in owners {
        for entry in view.scan(owner_prefix(owner)) {
            let (key, _) = entry?;
            conversations.insert(crate::view::id_at_end(&key)?);
        }
    }
    for id in conversations {
        let Some(mut conversation) = read::<ConversationRecord>(view, &record_key(id))? else {
            continue;
        };
        for entry in view.scan(messages_prefix(false, id)) {
            let (key, bytes) = entry?;
            let mut message: MessageRecord =
                serde_json::from_slice(&bytes).map_err(|e| ViewError::Record(e.to_string()))?;
            let Some(body) = message.body.take() else {
                continue;
            };
            for word in crate::words::words(&body) {
                changes.delete(word_key(
                    message.internal,
                    conversation.workspace_id,
                    &word,
                    id,
                ));
            }
            changes.put(&key, json(&message)?);
        }
        if let Some(last) = &mut conversation.last_message {
            last.body = None;
        }
        changes.put(record_key(id), json(&conversation)?);
    }
    Ok(())
}

/// Builds the conversations view.
pub struct ConversationsProjector;

impl Projector for ConversationsProjector {
    const NAME: &'static str = "conversations";

    fn apply(
        &self,
        record: &RecordedEvent,
        event: &Event,
        view: &View,
        changes: &mut ViewChanges,
    ) -> Result<(), ViewError> {
        if let Event::ContactErased(erased) = event {
            changes.erase();
            return erase(record, erased, view, changes);
        }
        let Some((tahc_events::StreamCategory::Conversation, id)) = record.stream_id.parse() else {
            return Ok(());
        };
        let at = record.occurred_at;
        let before: Option<ConversationRecord> = read(view, &record_key(id))?;
        let mut conversation = match (event, before.clone()) {
            (Event::ConversationStarted(started), None) => ConversationRecord {
                id,
                workspace_id: record.workspace_id,
                visitor_id: started.visitor_id,
                contact_id: None,
                status: ConversationStatus::Open,
                controller: started.controller,
                handoff: None,
                assignee: None,
                last_message: None,
                last_activity_at: at,
                created_at: at,
                closed_at: None,
                snoozed_until: None,
                message_count: 0,
                public_message_count: 0,
                ai_message_count: 0,
                human_message_count: 0,
                position: record.position,
            },
            (_, Some(existing)) => existing,
            // An event of a conversation the view never saw start: nothing
            // to attach it to.
            (_, None) => return Ok(()),
        };
        match event {
            Event::MessagePosted(m) => {
                let message = MessageRecord {
                    id: m.message_id,
                    conversation_id: id,
                    author_kind: m.author_kind,
                    agent_id: m.agent_id,
                    body: m.body.as_plain().map(str::to_owned),
                    internal: m.internal,
                    confidence: m.confidence,
                    created_at: at,
                    position: record.position,
                };
                changes.put(message_key(false, id, record.position), json(&message)?);
                changes.put(
                    message_id_key(m.message_id),
                    message_key(false, id, record.position),
                );
                if let Some(body) = &message.body {
                    for word in crate::words::words(body) {
                        changes.put(word_key(m.internal, record.workspace_id, &word, id), b"");
                    }
                }
                conversation.message_count += 1;
                if !m.internal {
                    changes.put(message_key(true, id, record.position), b"");
                    conversation.public_message_count += 1;
                    match m.author_kind {
                        AuthorKind::Ai => conversation.ai_message_count += 1,
                        AuthorKind::Agent => conversation.human_message_count += 1,
                        AuthorKind::Visitor | AuthorKind::System => {}
                    }
                    conversation.last_activity_at = at;
                    conversation.last_message = Some(message);
                }
            }
            Event::ConversationStatusChanged(c) => {
                conversation.status = c.to;
                conversation.closed_at = (c.to == ConversationStatus::Closed).then_some(at);
            }
            Event::ConversationSnoozed(s) => conversation.snoozed_until = Some(s.until),
            Event::ConversationWoke(_) => conversation.snoozed_until = None,
            Event::ConversationAssigned(a) => conversation.assignee = Some(a.agent_id),
            Event::ConversationUnassigned(_) => conversation.assignee = None,
            Event::HandoffRequested(h) => {
                conversation.handoff = Some(HandoffRecord {
                    reason: h.reason,
                    requested_at: at,
                    accepted_by: None,
                    accepted_at: None,
                });
            }
            Event::ConversationTakenOver(t) => {
                conversation.controller = Controller::Human;
                conversation.assignee = Some(t.agent_id);
                if let Some(handoff) = &mut conversation.handoff {
                    handoff.accepted_by = Some(t.agent_id);
                    handoff.accepted_at = Some(at);
                }
            }
            Event::ConversationReturnedToAi(_) => conversation.controller = Controller::Ai,
            Event::ConversationContactLinked(l) => conversation.contact_id = Some(l.contact_id),
            _ => {}
        }
        conversation.position = record.position;
        if let Some(before) = &before {
            for key in index_keys(before) {
                changes.delete(key);
            }
        }
        for key in index_keys(&conversation) {
            changes.put(key, b"");
        }
        count(view, before.as_ref(), &conversation, changes)?;
        changes.put(record_key(id), json(&conversation)?);
        Ok(())
    }
}
