//! Reading payloads of older schema versions.
//!
//! Every change to a payload's shape bumps its schema version in the
//! catalogue and adds one [`Upcaster`] from the previous version here. On
//! read, [`decode`] runs the chain from the stored version up to the current
//! one, so the log never has to be rewritten and old logs decode forever.

use serde_json::{Map, Value, json};

use crate::catalogue::{Event, spec};
use crate::envelope::Payload;

/// Why a stored payload could not be turned into an [`Event`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The type is not in the catalogue.
    #[error("unknown event type {event_type:?}")]
    UnknownType {
        /// The stored type name.
        event_type: String,
    },
    /// The payload was written by a newer release than this one.
    #[error("{event_type} v{stored} is newer than this release understands (v{current})")]
    FutureVersion {
        /// The stored type name.
        event_type: String,
        /// The stored version.
        stored: u16,
        /// The newest version this release knows.
        current: u16,
    },
    /// No upcaster leads from the stored version to the next one.
    #[error("no upcaster for {event_type} v{from}")]
    NoUpcaster {
        /// The stored type name.
        event_type: String,
        /// The version that has no way forward.
        from: u16,
    },
    /// An upcaster refused the payload.
    #[error("cannot upcast {event_type} v{from}: {reason}")]
    Upcast {
        /// The stored type name.
        event_type: String,
        /// The version being upcast.
        from: u16,
        /// What was wrong.
        reason: String,
    },
    /// The payload does not match its declared schema.
    #[error("{event_type} payload does not match its schema: {source}")]
    Payload {
        /// The stored type name.
        event_type: String,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// Turns a payload of version `from` into version `from + 1`.
pub struct Upcaster {
    /// The event type it applies to.
    pub event_type: &'static str,
    /// The version it reads.
    pub from: u16,
    /// The conversion; an `Err` names what was wrong with the input.
    pub upcast: fn(Value) -> Result<Value, String>,
}

/// Every upcaster of the catalogue.
pub const UPCASTERS: &[Upcaster] = &[Upcaster {
    event_type: "conversation.message_posted",
    from: 1,
    upcast: message_posted_v1_to_v2,
}];

/// `conversation.message_posted` v1 named the author in lowercase under
/// `author` and the text `text`, and had neither internal notes nor
/// idempotency keys. v2 spells the author kind as the API does, renames
/// `text` to `body`, and adds `internal: false` and `idempotency_key: null`.
fn message_posted_v1_to_v2(payload: Value) -> Result<Value, String> {
    let Value::Object(mut v1) = payload else {
        return Err("payload is not an object".into());
    };
    let author = take_str(&mut v1, "author")?.to_ascii_uppercase();
    if !matches!(author.as_str(), "VISITOR" | "AI" | "AGENT" | "SYSTEM") {
        return Err(format!("unknown author {author:?}"));
    }
    let text = v1.remove("text").ok_or("missing field `text`")?;
    Ok(json!({
        "message_id": v1.remove("message_id").ok_or("missing field `message_id`")?,
        "author_kind": author,
        "agent_id": v1.remove("agent_id").unwrap_or(Value::Null),
        "body": text,
        "internal": false,
        "confidence": v1.remove("confidence").unwrap_or(Value::Null),
        "idempotency_key": null,
    }))
}

fn take_str(object: &mut Map<String, Value>, key: &str) -> Result<String, String> {
    match object.remove(key) {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(format!("field `{key}` is not a string")),
        None => Err(format!("missing field `{key}`")),
    }
}

/// Decodes a stored payload of any known version into the current [`Event`].
pub fn decode(
    event_type: &str,
    schema_version: u16,
    payload: &Payload,
) -> Result<Event, DecodeError> {
    decode_payload(event_type, schema_version, payload.as_bytes())
}

/// [`decode`] over raw JSON bytes.
pub fn decode_payload(
    event_type: &str,
    schema_version: u16,
    payload: &[u8],
) -> Result<Event, DecodeError> {
    let unknown = || DecodeError::UnknownType {
        event_type: event_type.to_owned(),
    };
    let current = spec(event_type).ok_or_else(unknown)?.schema_version;
    let payload_error = |source| DecodeError::Payload {
        event_type: event_type.to_owned(),
        source,
    };
    if schema_version == current {
        return Event::from_current(event_type, payload)
            .ok_or_else(unknown)?
            .map_err(payload_error);
    }
    if schema_version > current {
        return Err(DecodeError::FutureVersion {
            event_type: event_type.to_owned(),
            stored: schema_version,
            current,
        });
    }
    let mut value: Value = serde_json::from_slice(payload).map_err(payload_error)?;
    for from in schema_version..current {
        let upcaster = UPCASTERS
            .iter()
            .find(|u| u.event_type == event_type && u.from == from)
            .ok_or_else(|| DecodeError::NoUpcaster {
                event_type: event_type.to_owned(),
                from,
            })?;
        value = (upcaster.upcast)(value).map_err(|reason| DecodeError::Upcast {
            event_type: event_type.to_owned(),
            from,
            reason,
        })?;
    }
    let bytes = serde_json::to_vec(&value).map_err(payload_error)?;
    Event::from_current(event_type, &bytes)
        .ok_or_else(unknown)?
        .map_err(payload_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthorKind, MessagePosted, Personal};
    use uuid::Uuid;

    #[test]
    fn a_v1_message_is_read_as_v2_with_body_and_no_internal_flag() {
        let id = Uuid::now_v7();
        let v1 = json!({"message_id": id, "author": "ai", "text": "Hello!", "confidence": 0.4});
        let event =
            decode_payload("conversation.message_posted", 1, v1.to_string().as_bytes()).unwrap();
        assert_eq!(
            event,
            Event::MessagePosted(MessagePosted {
                message_id: id,
                author_kind: AuthorKind::Ai,
                agent_id: None,
                body: Personal::plain("Hello!"),
                internal: false,
                confidence: Some(0.4),
                idempotency_key: None,
            })
        );
    }

    #[test]
    fn a_v1_message_with_an_unknown_author_is_a_typed_upcast_error() {
        let v1 = json!({"message_id": Uuid::now_v7(), "author": "robot", "text": "x"});
        let err = decode_payload("conversation.message_posted", 1, v1.to_string().as_bytes())
            .unwrap_err();
        assert!(matches!(err, DecodeError::Upcast { from: 1, .. }), "{err}");
    }

    #[test]
    fn unknown_types_future_versions_and_missing_upcasters_are_told_apart() {
        assert!(matches!(
            decode_payload("nope.never", 1, b"{}"),
            Err(DecodeError::UnknownType { .. })
        ));
        assert!(matches!(
            decode_payload("conversation.woke", 9, b"{}"),
            Err(DecodeError::FutureVersion {
                stored: 9,
                current: 1,
                ..
            })
        ));
        assert!(matches!(
            decode_payload("conversation.woke", 0, b"{}"),
            Err(DecodeError::NoUpcaster { from: 0, .. })
        ));
    }

    #[test]
    fn garbage_payloads_are_payload_errors_not_panics() {
        for garbage in [&b""[..], b"{", b"[1,2]", b"\xff\xfe", b"null"] {
            assert!(matches!(
                decode_payload("conversation.message_posted", 2, garbage),
                Err(DecodeError::Payload { .. })
            ));
            assert!(decode_payload("conversation.message_posted", 1, garbage).is_err());
        }
    }

    #[test]
    fn every_upcaster_leads_to_a_version_the_catalogue_knows() {
        for upcaster in UPCASTERS {
            let spec = spec(upcaster.event_type).expect("upcaster for an unknown type");
            assert!(upcaster.from < spec.schema_version);
        }
    }
}
