//! The log itself, for admins and auditors: events exactly as stored, and
//! the filter that picks them.

use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tahc_app::{LogSelection, Principal};
use tahc_events::{RecordedEvent, Role, StreamCategory, StreamId};
use uuid::Uuid;

use super::types::PageInfo;

use super::errors::coded;
use super::ids;
use super::types::node;

/// Who caused an event.
#[derive(SimpleObject)]
pub struct Actor {
    /// VISITOR | AGENT | BOT | ADMIN | AUDITOR | SYSTEM
    kind: String,
    id: Option<ID>,
}

/// One event of the append-only log, exactly as stored.
pub struct LogEvent(pub RecordedEvent);

#[Object]
impl LogEvent {
    async fn position(&self) -> String {
        self.0.position.to_string()
    }
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }
    async fn stream_id(&self) -> &str {
        self.0.stream_id.as_str()
    }
    async fn stream_version(&self) -> i32 {
        i32::try_from(self.0.stream_version).unwrap_or(i32::MAX)
    }
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    async fn schema_version(&self) -> i32 {
        i32::from(self.0.schema_version)
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    async fn actor(&self) -> Actor {
        Actor {
            kind: self.0.actor.kind.as_str().to_owned(),
            id: self.0.actor.id.as_ref().map(|id| ID(id.to_string())),
        }
    }
    async fn correlation_id(&self) -> Option<ID> {
        self.0.correlation_id.map(|id| ID(id.to_string()))
    }
    async fn causation_id(&self) -> Option<ID> {
        self.0.causation_id.map(|id| ID(id.to_string()))
    }
    /// The decoded payload: personal data opened, and `null` where it was
    /// erased.
    async fn payload(&self, ctx: &Context<'_>) -> Result<Json<serde_json::Value>> {
        let readable = node(ctx).vault().readable(&self.0).map_err(|error| {
            tracing::error!(%error, position = %self.0.position, "cannot open a payload");
            coded(
                "INTERNAL",
                "the subject keys cannot be read right now; retry",
            )
        })?;
        readable.payload.to_value().map(Json).map_err(|error| {
            tracing::error!(%error, position = %self.0.position, "a stored payload is not JSON");
            coded("INTERNAL", "the stored payload is not JSON")
        })
    }
    /// Hex digest chaining this event to the one before it.
    async fn hash(&self) -> String {
        tahc_events::hex(&self.0.hash)
    }
    /// The hash of the event before it (zeros for the first).
    async fn prev_hash(&self) -> String {
        tahc_events::hex(&self.0.prev_hash)
    }
}

/// Which events of the log to show.
#[derive(InputObject, Default)]
pub struct LogEventFilter {
    stream_id: Option<String>,
    conversation_id: Option<ID>,
    contact_id: Option<ID>,
    types: Option<Vec<String>>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl LogEventFilter {
    /// The selection it describes inside `workspace`; BAD_USER_INPUT for a
    /// malformed id.
    pub fn select(self, workspace: Uuid) -> Result<LogSelection> {
        let mut streams = Vec::new();
        if let Some(stream) = self.stream_id {
            streams.push(
                StreamId::new(stream)
                    .map_err(|e| coded("BAD_USER_INPUT", format!("`streamId`: {e}")))?,
            );
        }
        for (id, kind, category, field) in [
            (
                self.conversation_id,
                "Conversation",
                StreamCategory::Conversation,
                "conversationId",
            ),
            (
                self.contact_id,
                "Contact",
                StreamCategory::Contact,
                "contactId",
            ),
        ] {
            if let Some(id) = id {
                let uuid = ids::decode(kind, &id).ok_or_else(|| {
                    coded("BAD_USER_INPUT", format!("`{field}` is not a {kind} id"))
                })?;
                streams.push(StreamId::of(category, uuid));
            }
        }
        Ok(LogSelection {
            workspace: Some(workspace),
            streams,
            types: self.types,
            from: self.from,
            to: self.to,
        })
    }
}

/// Admins and auditors read the log; FORBIDDEN for everyone else.
pub fn may_read_log(caller: &Principal) -> Result<()> {
    if matches!(caller.role(), Some(Role::Admin | Role::Auditor)) {
        Ok(())
    } else {
        Err(coded("FORBIDDEN", "the log is for admins and auditors"))
    }
}

/// One event of a page of the log, with its cursor (its position).
#[derive(SimpleObject)]
pub struct LogEventEdge {
    cursor: String,
    node: LogEvent,
}

/// A page of the log, oldest first.
pub struct LogEventConnection {
    events: Vec<RecordedEvent>,
    page_info: PageInfo,
}

impl LogEventConnection {
    /// A page of `events`, `more` telling whether others follow; `after`
    /// is the position it started after.
    #[must_use]
    pub fn new(events: Vec<RecordedEvent>, after: tahc_events::Position, more: bool) -> Self {
        let cursor = |r: &RecordedEvent| r.position.to_string();
        LogEventConnection {
            page_info: PageInfo {
                has_next_page: more,
                has_previous_page: after > tahc_events::Position::START,
                start_cursor: events.first().map(cursor),
                end_cursor: events.last().map(cursor),
            },
            events,
        }
    }
}

#[Object]
impl LogEventConnection {
    async fn edges(&self) -> Vec<LogEventEdge> {
        self.events
            .iter()
            .map(|r| LogEventEdge {
                cursor: r.position.to_string(),
                node: LogEvent(r.clone()),
            })
            .collect()
    }
    async fn nodes(&self) -> Vec<LogEvent> {
        self.events.iter().cloned().map(LogEvent).collect()
    }
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
}
