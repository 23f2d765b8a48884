//! The GraphQL-over-HTTP request parser: a POST body, the same bytes as a
//! GET query string, and as an `Accept` header. Each is a request or a
//! clear error, never a panic.
#![no_main]

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use tahc_api::graphql_http::{negotiate, operation_type, parse_body, parse_params};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(request) = parse_body(bytes) {
        let _ = operation_type(&request);
    }
    let text = String::from_utf8_lossy(bytes);
    let params: HashMap<String, String> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Ok(request) = parse_params(&params) {
        let _ = operation_type(&request);
    }
    if let Ok(accept) = HeaderValue::from_bytes(bytes) {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, accept);
        let _ = negotiate(&headers);
    }
});
