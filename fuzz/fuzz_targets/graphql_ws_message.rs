//! A `graphql-transport-ws` client message: parsed, or refused with a
//! close whose reason fits a control frame. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tahc_api::graphql_ws::protocol::{ClientMessage, Close};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Err(close) = ClientMessage::parse(text) {
        assert!(close.reason.len() <= Close::MAX_REASON);
        assert!((4000..5000).contains(&close.code), "{}", close.code);
    }
});
