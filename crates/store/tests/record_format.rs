//! The stored record format must decode forever: a golden record written by
//! format 1 is checked byte for byte. `TAHC_BLESS=1` rewrites the fixture
//! (only ever for a new format, next to the old one).

use std::path::PathBuf;

use chrono::DateTime;
use tahc_events::{Actor, ActorKind, NewEvent, Payload, Position, StreamId};
use tahc_store::record::{self, GENESIS};
use uuid::Uuid;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record.v1.hex")
}

fn golden_event() -> NewEvent {
    NewEvent {
        event_id: Uuid::parse_str("0190a1b2-0000-7000-8000-000000000017").unwrap(),
        event_type: "conversation.message_posted".into(),
        schema_version: 2,
        occurred_at: DateTime::from_timestamp_micros(1_793_525_400_123_456).unwrap(),
        actor: Actor::new(ActorKind::Agent, "0190a1b2-0000-7000-8000-00000000e001"),
        workspace_id: Uuid::parse_str("0190a1b2-0000-7000-8000-00000000a001").unwrap(),
        correlation_id: Some(Uuid::parse_str("0190a1b2-0000-7000-8000-0000000c0001").unwrap()),
        causation_id: None,
        payload: Payload::from_json_bytes(
            &br#"{"message_id":"0190a1b2-0000-7000-8000-0000000b0002","author_kind":"AGENT","agent_id":null,"body":"Checking with billing now.","internal":true,"confidence":null,"idempotency_key":null}"#[..],
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_format_1_record_still_decodes_to_the_same_event_and_hash() {
    let stream = StreamId::new("conversation-0190a1b2-0000-7000-8000-00000000d001").unwrap();
    let (expected, bytes) = record::seal(golden_event(), &stream, 4, Position(17), GENESIS);
    if std::env::var_os("TAHC_BLESS").is_some() {
        std::fs::write(fixture(), hex(&bytes) + "\n").unwrap();
    }
    let stored = std::fs::read_to_string(fixture()).expect("golden record fixture");
    let stored: Vec<u8> = (0..stored.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&stored.trim()[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(hex(&stored), hex(&bytes), "encoding of format 1 changed");
    let decoded = record::decode(&stored).unwrap();
    assert_eq!(decoded, expected);
    assert_eq!(record::expected_hash(&decoded), decoded.hash);
    assert_eq!(
        hex(&decoded.hash),
        hex(&stored[stored.len() - 32..]),
        "the hash is the record's last 32 bytes"
    );
}
