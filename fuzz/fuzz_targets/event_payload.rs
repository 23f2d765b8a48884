//! Every event type's payload decoder and upcasters, at every schema
//! version, on any bytes: the first byte picks the type, the next two the
//! version, the rest is the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tahc_events::{CATALOGUE, decode_payload};

fuzz_target!(|bytes: &[u8]| {
    let [kind, high, low, payload @ ..] = bytes else {
        return;
    };
    let spec = &CATALOGUE[usize::from(*kind) % CATALOGUE.len()];
    // Mostly versions that exist (1 ..= current), sometimes any.
    let raw = u16::from_be_bytes([*high, *low]);
    let version = if raw & 0x8000 == 0 {
        1 + raw % spec.schema_version
    } else {
        raw
    };
    let _ = decode_payload(spec.event_type, version, payload);
});
