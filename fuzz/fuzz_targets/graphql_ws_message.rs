//! A `graphql-transport-ws` client message: parsed, or refused with a
//! close whose reason fits a control frame. Never a panic. A `subscribe`
//! payload's document that passes the nesting bound parses without
//! overflowing the stack (the schema's own run of such documents is the
//! `graphql_document` target).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tahc_api::graphql_ws::protocol::{ClientMessage, Close};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    match ClientMessage::parse(text) {
        Err(close) => {
            assert!(close.reason.len() <= Close::MAX_REASON);
            assert!((4000..5000).contains(&close.code), "{}", close.code);
        }
        Ok(ClientMessage::Subscribe { payload, .. }) => {
            if tahc_api::nesting::check_document(&payload.query).is_ok() {
                let _ = async_graphql::parser::parse_query(&payload.query);
            }
        }
        Ok(_) => {}
    }
});
