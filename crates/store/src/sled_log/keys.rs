//! The key layout of the log's single sled tree. One tree keeps every write
//! of a round in one atomic batch.
//!
//! | key                                   | value                   |
//! |---------------------------------------|-------------------------|
//! | `e` position (u64 BE)                 | canonical record bytes  |
//! | `s` stream id, 0x00, version (u64 BE) | position (u64 BE)       |
//! | `i` event id (16 bytes)               | position (u64 BE)       |

use tahc_events::{Position, StreamId};
use uuid::Uuid;

const EVENT: u8 = b'e';
const STREAM_INDEX: u8 = b's';
const EVENT_ID: u8 = b'i';

/// The key of the record at `position`.
pub fn event(position: Position) -> [u8; 9] {
    let mut key = [EVENT; 9];
    key[1..].copy_from_slice(&position.0.to_be_bytes());
    key
}

/// The position a record key names.
pub fn event_position(key: &[u8]) -> Option<Position> {
    match key {
        [EVENT, rest @ ..] => Some(Position(u64::from_be_bytes(rest.try_into().ok()?))),
        _ => None,
    }
}

/// The stream index entry of `stream` at `version`.
pub fn stream_entry(stream: &StreamId, version: u64) -> Vec<u8> {
    let mut key = stream_prefix(stream);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// Every stream index key of `stream` starts with this.
pub fn stream_prefix(stream: &StreamId) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.as_str().len() + 10);
    key.push(STREAM_INDEX);
    key.extend_from_slice(stream.as_str().as_bytes());
    key.push(0);
    key
}

/// Just past the last stream index key of `stream`.
pub fn stream_end(stream: &StreamId) -> Vec<u8> {
    let mut key = stream_prefix(stream);
    *key.last_mut().expect("prefix ends in a separator") = 1;
    key
}

/// The version a stream index key names.
pub fn stream_version(key: &[u8]) -> Option<u64> {
    let tail = key.len().checked_sub(8)?;
    decode_u64(&key[tail..])
}

/// The key mapping an event id to its position.
pub fn event_id(id: Uuid) -> [u8; 17] {
    let mut key = [EVENT_ID; 17];
    key[1..].copy_from_slice(id.as_bytes());
    key
}

/// A big-endian u64 value.
pub fn decode_u64(value: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(value.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_sort_by_position_and_parse_back() {
        assert!(event(Position(255)) < event(Position(256)));
        assert_eq!(event_position(&event(Position(42))), Some(Position(42)));
        assert_eq!(event_position(b"e123"), None);
        assert_eq!(
            event_position(&stream_prefix(&StreamId::new("x").unwrap())),
            None
        );
    }

    #[test]
    fn a_stream_prefix_does_not_cover_a_longer_stream_name() {
        let short = StreamId::new("conversation-1").unwrap();
        let long = StreamId::new("conversation-12").unwrap();
        assert!(!stream_entry(&long, 1).starts_with(&stream_prefix(&short)));
        assert!(stream_entry(&short, 1).starts_with(&stream_prefix(&short)));
        assert!(stream_entry(&short, u64::MAX) < stream_end(&short));
        assert_eq!(stream_version(&stream_entry(&long, 42)), Some(42));
    }
}
