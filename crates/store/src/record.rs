//! The canonical bytes of one stored event, and its hash.
//!
//! Both backends hash the same bytes, so a chain verifies the same way
//! wherever it is stored, and a log can move between backends with its hashes
//! intact. The format is fixed-layout and strict: decoding accepts exactly the
//! bytes encoding produces, so "decode, then encode" reproduces the stored
//! bytes and any changed byte shows up as a decode error or a hash mismatch.
//!
//! Layout, integers big-endian:
//!
//! ```text
//! u8  format (1)          u64 position            [16] event_id
//! u64 stream_version      i64 occurred_at (µs)    u16 schema_version
//! u8  actor kind          [16] workspace_id       u8  flags
//! [16] correlation_id (flag 1)                    [16] causation_id (flag 2)
//! u8 len, stream_id       u8 len, type            u8 len, actor id (flag 4)
//! [32] prev_hash          u32 len, payload (JSON) [32] hash = BLAKE3(all before it)
//! ```

use bytes::Bytes;
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use tahc_events::{Actor, ActorKind, NewEvent, Payload, Position, RecordedEvent, StreamId};
use uuid::Uuid;

/// The only format this release writes.
const FORMAT: u8 = 1;
const HAS_CORRELATION: u8 = 1;
const HAS_CAUSATION: u8 = 2;
const HAS_ACTOR_ID: u8 = 4;
const KNOWN_FLAGS: u8 = HAS_CORRELATION | HAS_CAUSATION | HAS_ACTOR_ID;

/// A 32-byte BLAKE3 digest.
pub type Digest = [u8; 32];

/// The `prev_hash` of the first record.
pub const GENESIS: Digest = [0; 32];

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes end before the record does.
    #[error("record truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Where reading stopped.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// A format this release does not know.
    #[error("unknown record format {0}")]
    UnknownFormat(u8),
    /// Flag bits that no release sets.
    #[error("unknown flag bits {0:#04x}")]
    UnknownFlags(u8),
    /// An actor kind code out of range.
    #[error("unknown actor kind code {0}")]
    UnknownActorKind(u8),
    /// A text field is not UTF-8.
    #[error("{field} is not UTF-8")]
    NotUtf8 {
        /// The field.
        field: &'static str,
    },
    /// A stream id that breaks the stream id rules.
    #[error("invalid stream id: {0}")]
    StreamId(#[from] tahc_events::InvalidStreamId),
    /// A timestamp outside the representable range.
    #[error("timestamp {0}µs out of range")]
    Timestamp(i64),
    /// The record names another position than the one it is stored at.
    #[error("record stored at this position names position {found}")]
    Misplaced {
        /// The position written inside the record.
        found: u64,
    },
    /// Bytes after the end of the record.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// The storage found the bytes damaged before they could be decoded.
    #[error("the stored bytes are damaged: {0}")]
    Damaged(String),
}

/// Why an event cannot be stored as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvent {
    /// A length-prefixed field is longer than its prefix allows.
    #[error("{field} is {len} bytes; at most {max} fit")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Checks that an event fits the record format before any position is spent
/// on it.
pub fn check_fits(event: &NewEvent) -> Result<(), InvalidEvent> {
    let short = |field, len: usize| {
        if len > u8::MAX as usize {
            Err(InvalidEvent::TooLong {
                field,
                len,
                max: u8::MAX as usize,
            })
        } else {
            Ok(())
        }
    };
    short("event type", event.event_type.len())?;
    short("actor id", event.actor.id.as_ref().map_or(0, |id| id.len()))?;
    let payload = event.payload.as_bytes().len();
    if payload > u32::MAX as usize {
        return Err(InvalidEvent::TooLong {
            field: "payload",
            len: payload,
            max: u32::MAX as usize,
        });
    }
    Ok(())
}

/// Places a checked event in the log: gives it its position, stream version
/// and chain link, and returns the record with its canonical bytes.
///
/// The caller must have passed the event through [`check_fits`].
#[must_use]
pub fn seal(
    event: NewEvent,
    stream_id: &StreamId,
    stream_version: u64,
    position: Position,
    prev_hash: Digest,
) -> (RecordedEvent, Vec<u8>) {
    let micros = event.occurred_at.timestamp_micros();
    let mut record = RecordedEvent {
        position,
        event_id: event.event_id,
        stream_id: stream_id.clone(),
        stream_version,
        event_type: event.event_type,
        schema_version: event.schema_version,
        occurred_at: DateTime::from_timestamp_micros(micros).unwrap_or(event.occurred_at),
        actor: event.actor,
        workspace_id: event.workspace_id,
        correlation_id: event.correlation_id,
        causation_id: event.causation_id,
        payload: event.payload,
        prev_hash,
        hash: GENESIS,
    };
    let mut bytes = encode_body(&record);
    record.hash = *blake3::hash(&bytes).as_bytes();
    bytes.extend_from_slice(&record.hash);
    (record, bytes)
}

/// A record's canonical bytes as stored, its hash included (copying a log
/// to another backend keeps every record exactly as it was).
#[must_use]
pub fn encode(record: &RecordedEvent) -> Vec<u8> {
    let mut bytes = encode_body(record);
    bytes.extend_from_slice(&record.hash);
    bytes
}

/// The bytes the hash covers: the whole record but its final hash.
#[must_use]
pub fn encode_body(record: &RecordedEvent) -> Vec<u8> {
    let stream = record.stream_id.as_str().as_bytes();
    let actor_id = record.actor.id.as_deref().unwrap_or("").as_bytes();
    let payload = record.payload.as_bytes();
    let mut out = Vec::with_capacity(160 + stream.len() + payload.len());
    out.push(FORMAT);
    out.extend_from_slice(&record.position.0.to_be_bytes());
    out.extend_from_slice(record.event_id.as_bytes());
    out.extend_from_slice(&record.stream_version.to_be_bytes());
    out.extend_from_slice(&record.occurred_at.timestamp_micros().to_be_bytes());
    out.extend_from_slice(&record.schema_version.to_be_bytes());
    out.push(actor_code(record.actor.kind));
    out.extend_from_slice(record.workspace_id.as_bytes());
    let mut flags = 0;
    if record.correlation_id.is_some() {
        flags |= HAS_CORRELATION;
    }
    if record.causation_id.is_some() {
        flags |= HAS_CAUSATION;
    }
    if record.actor.id.is_some() {
        flags |= HAS_ACTOR_ID;
    }
    out.push(flags);
    for id in [record.correlation_id, record.causation_id]
        .into_iter()
        .flatten()
    {
        out.extend_from_slice(id.as_bytes());
    }
    push_short(&mut out, stream);
    push_short(&mut out, record.event_type.as_bytes());
    if record.actor.id.is_some() {
        push_short(&mut out, actor_id);
    }
    out.extend_from_slice(&record.prev_hash);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The hash a record should carry, recomputed from its fields.
#[must_use]
pub fn expected_hash(record: &RecordedEvent) -> Digest {
    *blake3::hash(&encode_body(record)).as_bytes()
}

fn push_short(out: &mut Vec<u8>, bytes: &[u8]) {
    // Lengths were checked by `check_fits` and `StreamId::new`.
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn actor_code(kind: ActorKind) -> u8 {
    ActorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .map_or(u8::MAX, |i| i as u8)
}

/// Decodes canonical record bytes. Never panics; any input that is not
/// exactly a record is a [`RecordError`].
pub fn decode(bytes: &[u8]) -> Result<RecordedEvent, RecordError> {
    decode_shared(&Bytes::copy_from_slice(bytes))
}

/// [`decode`] without copying the payload: it stays a slice of `shared`.
pub fn decode_shared(shared: &Bytes) -> Result<RecordedEvent, RecordError> {
    let bytes = &shared[..];
    let mut r = Reader { bytes, offset: 0 };
    let format = r.u8()?;
    if format != FORMAT {
        return Err(RecordError::UnknownFormat(format));
    }
    let position = Position(r.u64()?);
    let event_id = r.uuid()?;
    let stream_version = r.u64()?;
    let micros = r.u64()? as i64;
    let occurred_at: DateTime<Utc> =
        DateTime::from_timestamp_micros(micros).ok_or(RecordError::Timestamp(micros))?;
    let schema_version = u16::from_be_bytes(r.array()?);
    let code = r.u8()?;
    let kind = *ActorKind::ALL
        .get(code as usize)
        .ok_or(RecordError::UnknownActorKind(code))?;
    let workspace_id = r.uuid()?;
    let flags = r.u8()?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(RecordError::UnknownFlags(flags));
    }
    let correlation_id = (flags & HAS_CORRELATION != 0)
        .then(|| r.uuid())
        .transpose()?;
    let causation_id = (flags & HAS_CAUSATION != 0).then(|| r.uuid()).transpose()?;
    let stream_id = StreamId::from_shared(r.short_text(shared, "stream id")?)?;
    let event_type = r.short_text(shared, "event type")?;
    let actor_id = (flags & HAS_ACTOR_ID != 0)
        .then(|| r.short_text(shared, "actor id"))
        .transpose()?;
    let prev_hash = r.array()?;
    let payload_len = u32::from_be_bytes(r.array()?) as usize;
    let payload_start = r.offset;
    r.take(payload_len)?;
    let payload = Payload::from_json_bytes(shared.slice(payload_start..r.offset));
    let hash = r.array()?;
    if r.offset != bytes.len() {
        return Err(RecordError::TrailingBytes(bytes.len() - r.offset));
    }
    Ok(RecordedEvent {
        position,
        event_id,
        stream_id,
        stream_version,
        event_type,
        schema_version,
        occurred_at,
        actor: Actor { kind, id: actor_id },
        workspace_id,
        correlation_id,
        causation_id,
        payload,
        prev_hash,
        hash,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], RecordError> {
        let end = self
            .offset
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(RecordError::Truncated {
                offset: self.offset,
                needed: self.offset.saturating_add(len) - self.bytes.len(),
            });
        };
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn uuid(&mut self) -> Result<Uuid, RecordError> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    /// A length-prefixed text field, as a slice of `shared` (which holds
    /// the same bytes as `self.bytes`).
    fn short_text(
        &mut self,
        shared: &Bytes,
        field: &'static str,
    ) -> Result<ByteString, RecordError> {
        let len = self.u8()? as usize;
        let start = self.offset;
        self.take(len)?;
        ByteString::try_from(shared.slice(start..self.offset))
            .map_err(|_| RecordError::NotUtf8 { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SubsecRound;

    pub(crate) fn sample(actor_id: Option<&str>, correlation: bool) -> NewEvent {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "conversation.message_posted".into(),
            schema_version: 2,
            occurred_at: Utc::now(),
            actor: Actor {
                kind: ActorKind::Bot,
                id: actor_id.map(Into::into),
            },
            workspace_id: Uuid::now_v7(),
            correlation_id: correlation.then(Uuid::now_v7),
            causation_id: None,
            payload: Payload::from_json_bytes(&br#"{"body":"hi \u00e9"}"#[..]),
        }
    }

    #[test]
    fn sealed_records_decode_to_themselves_and_verify() {
        for (actor, correlation) in [(Some("bot-1"), true), (None, false), (Some(""), false)] {
            let event = sample(actor, correlation);
            let stream = StreamId::new("conversation-1").unwrap();
            let (record, bytes) = seal(event.clone(), &stream, 3, Position(9), [7; 32]);
            let decoded = decode(&bytes).unwrap();
            assert_eq!(decoded, record);
            assert_eq!(decoded.occurred_at, event.occurred_at.trunc_subsecs(6));
            assert_eq!(expected_hash(&decoded), decoded.hash);
            let mut again = encode_body(&decoded);
            again.extend_from_slice(&decoded.hash);
            assert_eq!(again, bytes);
        }
    }

    #[test]
    fn every_truncation_of_a_record_is_a_typed_error() {
        let (_, bytes) = seal(
            sample(Some("a"), true),
            &StreamId::new("s").unwrap(),
            1,
            Position(1),
            GENESIS,
        );
        for len in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..len]), Err(RecordError::Truncated { .. })),
                "prefix of {len} bytes"
            );
        }
        let mut longer = bytes;
        longer.push(0);
        assert_eq!(decode(&longer), Err(RecordError::TrailingBytes(1)));
    }

    #[test]
    fn garbage_never_panics_the_decoder() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (_, good) = seal(
            sample(Some("a"), true),
            &StreamId::new("s").unwrap(),
            1,
            Position(1),
            GENESIS,
        );
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            let _ = decode(&bytes);
            let random: Vec<u8> = (0..rng.random_range(0..200))
                .map(|_| rng.random())
                .collect();
            let _ = decode(&random);
        }
        assert!(matches!(decode(&[2]), Err(RecordError::UnknownFormat(2))));
    }

    #[test]
    fn overlong_type_names_and_actor_ids_are_refused_before_storing() {
        let mut event = sample(Some("a"), false);
        event.event_type = "t".repeat(256).into();
        assert!(matches!(
            check_fits(&event),
            Err(InvalidEvent::TooLong {
                field: "event type",
                ..
            })
        ));
        let mut event = sample(Some(&"a".repeat(300)), false);
        assert!(check_fits(&event).is_err());
        event.actor.id = Some("a".repeat(255).into());
        assert!(check_fits(&event).is_ok());
    }
}
