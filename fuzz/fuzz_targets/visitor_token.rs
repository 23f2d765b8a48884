//! Visitor tokens: any text verifies to a claim only if it was signed with
//! the key; a token signed from fuzzed claims verifies to the same claim.
#![no_main]

use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;
use tahc_api::visitor_token::{VisitorClaim, sign, verify};
use uuid::Uuid;

const KEY: [u8; 32] = [7; 32];

fuzz_target!(|bytes: &[u8]| {
    let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(claim) = verify(&KEY, text, now) {
            // Only a token this key signed can say so.
            assert_eq!(sign(&KEY, &claim), text);
        }
    }
    if let [visitor @ .., a, b, c, d] = bytes
        && visitor.len() >= 32
    {
        let seconds = i64::from(u32::from_be_bytes([*a, *b, *c, *d]));
        let claim = VisitorClaim {
            visitor_id: Uuid::from_slice(&visitor[..16]).unwrap(),
            workspace_id: Uuid::from_slice(&visitor[16..32]).unwrap(),
            expires_at: now + Duration::seconds(seconds + 1),
        };
        let token = sign(&KEY, &claim);
        assert_eq!(verify(&KEY, &token, now).ok(), Some(claim));
        assert!(verify(&[8; 32], &token, now).is_err());
    }
});
