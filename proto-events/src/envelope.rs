//! The envelope around every event: where it sits in the log, who caused it,
//! when, and the hash chain that makes tampering detectable.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use bytestring::ByteString;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::catalogue::{Event, StreamCategory};

/// A place in the global log: gap-free, starting at 1, the one order every
/// reader sees. `Position::START` (0) is "before the first event", the value
/// to pass as `after` to read from the beginning.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(pub u64);

impl Position {
    /// Before the first event.
    pub const START: Position = Position(0);

    /// The position right after this one.
    #[must_use]
    pub fn next(self) -> Position {
        Position(self.0 + 1)
    }
}

impl From<u64> for Position {
    fn from(position: u64) -> Self {
        Position(position)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Position {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Position)
    }
}

/// Why a string is not a valid stream id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStreamId {
    /// Stream ids must not be empty.
    #[error("stream id is empty")]
    Empty,
    /// Stream ids are bounded so that index keys stay small.
    #[error("stream id is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// The length given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// NUL separates the stream id from the version in index keys.
    #[error("stream id contains a NUL byte")]
    ContainsNul,
}

/// The stream an event belongs to, `"<category>-<uuid>"` for the service's
/// own streams (e.g. `conversation-0190…`). One stream is one aggregate: its
/// events are numbered 1, 2, 3… by `stream_version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StreamId(ByteString);

impl StreamId {
    /// Longest stream id accepted, in bytes.
    pub const MAX_LEN: usize = 255;

    /// A stream id from any string that fits the rules.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidStreamId> {
        Self::from_shared(ByteString::from(id.into()))
    }

    /// A stream id from shared text (e.g. a slice of a stored record),
    /// without copying it.
    pub fn from_shared(id: ByteString) -> Result<Self, InvalidStreamId> {
        if id.is_empty() {
            return Err(InvalidStreamId::Empty);
        }
        if id.len() > Self::MAX_LEN {
            return Err(InvalidStreamId::TooLong {
                len: id.len(),
                max: Self::MAX_LEN,
            });
        }
        if id.as_bytes().contains(&0) {
            return Err(InvalidStreamId::ContainsNul);
        }
        Ok(StreamId(id))
    }

    /// The stream of one aggregate of the service.
    #[must_use]
    pub fn of(category: StreamCategory, id: Uuid) -> Self {
        StreamId(format!("{}-{}", category.prefix(), id).into())
    }

    /// The stream id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The category and aggregate id, for the service's own streams.
    #[must_use]
    pub fn parse(&self) -> Option<(StreamCategory, Uuid)> {
        let (prefix, id) = self.0.split_once('-')?;
        let category = StreamCategory::from_prefix(prefix)?;
        Some((category, Uuid::parse_str(id).ok()?))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StreamId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        StreamId::new(text).map_err(serde::de::Error::custom)
    }
}

/// What kind of principal caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActorKind {
    /// A website visitor, through the widget.
    Visitor,
    /// A human team member.
    Agent,
    /// An AI assistant integration.
    Bot,
    /// A workspace administrator.
    Admin,
    /// A read-only auditor (never writes; listed for completeness).
    Auditor,
    /// The service itself: process managers, timers, migrations.
    System,
}

impl ActorKind {
    /// Every kind, in the order of their stored codes.
    pub const ALL: [ActorKind; 6] = [
        ActorKind::Visitor,
        ActorKind::Agent,
        ActorKind::Bot,
        ActorKind::Admin,
        ActorKind::Auditor,
        ActorKind::System,
    ];

    /// The name auditors see, as in the GraphQL `Actor.kind`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Visitor => "VISITOR",
            ActorKind::Agent => "AGENT",
            ActorKind::Bot => "BOT",
            ActorKind::Admin => "ADMIN",
            ActorKind::Auditor => "AUDITOR",
            ActorKind::System => "SYSTEM",
        }
    }
}

/// Who caused an event: kind and, except for the system, an id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The kind of principal.
    pub kind: ActorKind,
    /// The visitor or agent id; `None` for the system.
    pub id: Option<ByteString>,
}

impl Actor {
    /// The service itself.
    #[must_use]
    pub fn system() -> Self {
        Actor {
            kind: ActorKind::System,
            id: None,
        }
    }

    /// A principal of the given kind and id.
    #[must_use]
    pub fn new(kind: ActorKind, id: impl ToString) -> Self {
        Actor {
            kind,
            id: Some(id.to_string().into()),
        }
    }
}

/// An event payload as stored: UTF-8 JSON text, cheap to clone.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Bytes);

impl Payload {
    /// A payload from JSON text. The caller vouches that it is JSON; the store
    /// keeps the bytes exactly as given so that hashes stay stable.
    #[must_use]
    pub fn from_json_bytes(bytes: impl Into<Bytes>) -> Self {
        Payload(bytes.into())
    }

    /// The stored bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The payload parsed as a JSON value.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({})", String::from_utf8_lossy(&self.0))
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_slice(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(Payload(Bytes::from(raw.get().to_owned())))
    }
}

/// The context every event of one command shares: who, when, in which
/// workspace, and what caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMeta {
    /// Who caused the events.
    pub actor: Actor,
    /// The workspace the events belong to.
    pub workspace_id: Uuid,
    /// When the command was decided.
    pub occurred_at: DateTime<Utc>,
    /// Groups every event that stems from one request.
    pub correlation_id: Option<Uuid>,
    /// The event (or command) that caused these events.
    pub causation_id: Option<Uuid>,
}

/// An event about to be appended: everything but its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id (UUID v7); appending an id that is already stored is a no-op
    /// that returns the original result.
    pub event_id: Uuid,
    /// The catalogue name, e.g. `conversation.message_posted`.
    pub event_type: ByteString,
    /// The payload's schema version.
    pub schema_version: u16,
    /// When it happened, stored to the microsecond.
    pub occurred_at: DateTime<Utc>,
    /// Who caused it.
    pub actor: Actor,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Groups events of one request.
    pub correlation_id: Option<Uuid>,
    /// What caused it.
    pub causation_id: Option<Uuid>,
    /// JSON payload.
    pub payload: Payload,
}

impl NewEvent {
    /// Encodes a catalogue event with a fresh UUID v7 id.
    pub fn encode(event: &Event, meta: &EventMeta) -> Result<Self, serde_json::Error> {
        Self::encode_with_id(Uuid::now_v7(), event, meta)
    }

    /// Encodes a catalogue event with a chosen id, for deterministic ids
    /// (process managers that may run twice over the same input).
    pub fn encode_with_id(
        event_id: Uuid,
        event: &Event,
        meta: &EventMeta,
    ) -> Result<Self, serde_json::Error> {
        Ok(NewEvent {
            event_id,
            event_type: ByteString::from_static(event.event_type()),
            schema_version: event.schema_version(),
            occurred_at: meta.occurred_at.trunc_subsecs(6),
            actor: meta.actor.clone(),
            workspace_id: meta.workspace_id,
            correlation_id: meta.correlation_id,
            causation_id: meta.causation_id,
            payload: Payload::from_json_bytes(event.payload_json()?),
        })
    }
}

/// One event as stored in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Global, gap-free position.
    pub position: Position,
    /// Unique id.
    pub event_id: Uuid,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Its number within the stream, from 1.
    pub stream_version: u64,
    /// Catalogue name.
    #[serde(rename = "type")]
    pub event_type: ByteString,
    /// Schema version of the stored payload (may be older than current).
    pub schema_version: u16,
    /// When it happened (microsecond precision).
    pub occurred_at: DateTime<Utc>,
    /// Who caused it.
    pub actor: Actor,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Groups events of one request.
    pub correlation_id: Option<Uuid>,
    /// What caused it.
    pub causation_id: Option<Uuid>,
    /// JSON payload, exactly as stored.
    pub payload: Payload,
    /// Hash of the record before this one (zeros for the first).
    #[serde(with = "hex_digest")]
    pub prev_hash: [u8; 32],
    /// BLAKE3 over `prev_hash` and this record's stored bytes.
    #[serde(with = "hex_digest")]
    pub hash: [u8; 32],
}

impl RecordedEvent {
    /// The event as it was appended (same id), e.g. to copy it into another
    /// log or to retry its append.
    #[must_use]
    pub fn to_new_event(&self) -> NewEvent {
        NewEvent {
            event_id: self.event_id,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            occurred_at: self.occurred_at,
            actor: self.actor.clone(),
            workspace_id: self.workspace_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            payload: self.payload.clone(),
        }
    }

    /// Decodes the payload into the current catalogue [`Event`], upcasting
    /// older schema versions.
    pub fn decode(&self) -> Result<Event, crate::DecodeError> {
        crate::decode(&self.event_type, self.schema_version, &self.payload)
    }
}

/// Lowercase hex digits of `bytes` (digests, keys and cursors as text).
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Hex encoding of 32-byte digests in JSON.
mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(digest: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::hex(digest))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let bad = || serde::de::Error::custom("expected 64 hex digits");
        if text.len() != 64 || !text.is_ascii() {
            return Err(bad());
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_reject_empty_nul_and_overlong_text() {
        assert_eq!(StreamId::new(""), Err(InvalidStreamId::Empty));
        assert_eq!(StreamId::new("a\0b"), Err(InvalidStreamId::ContainsNul));
        assert!(matches!(
            StreamId::new("x".repeat(256)),
            Err(InvalidStreamId::TooLong { len: 256, .. })
        ));
        assert!(StreamId::new("x".repeat(255)).is_ok());
    }

    #[test]
    fn service_stream_ids_parse_back_to_category_and_id() {
        let id = Uuid::now_v7();
        let stream = StreamId::of(StreamCategory::Conversation, id);
        assert_eq!(stream.parse(), Some((StreamCategory::Conversation, id)));
        assert_eq!(StreamId::new("other-stream").unwrap().parse(), None);
    }

    #[test]
    fn recorded_events_round_trip_through_json_with_hex_hashes() {
        let event = RecordedEvent {
            position: Position(7),
            event_id: Uuid::now_v7(),
            stream_id: StreamId::new("conversation-x").unwrap(),
            stream_version: 2,
            event_type: "conversation.woke".into(),
            schema_version: 1,
            occurred_at: Utc::now().trunc_subsecs(6),
            actor: Actor::system(),
            workspace_id: Uuid::now_v7(),
            correlation_id: None,
            causation_id: Some(Uuid::now_v7()),
            payload: Payload::from_json_bytes(&b"{}"[..]),
            prev_hash: [1; 32],
            hash: [0xab; 32],
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains(&"ab".repeat(32)));
        let back: RecordedEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
    }
}
