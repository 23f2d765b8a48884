//! The stored-record decoder on any bytes: an error or a record, never a
//! panic; a record it accepts re-encodes to a body whose hash it can check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tahc_store::record;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(recorded) = record::decode(bytes) {
        let _ = record::encode_body(&recorded);
        let _ = record::expected_hash(&recorded);
    }
});
