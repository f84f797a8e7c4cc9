//! ConnectWise callbacks: the connector's verification with the signing
//! key given instead of fetched (`psa_connectwise::fuzzing::callback`).
//! With flag bit 0 the body is signed with the right key.
#![no_main]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use psa_connector::WebhookRequest;

#[path = "common.rs"]
mod common;

const KEY: &str = "fuzz-signing-key";

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data);
    let hosts = vec![
        "api-na.myconnectwise.net".to_string(),
        "127.0.0.1:8080".to_string(),
    ];
    let mut headers = HeaderMap::new();
    let signature = if parts.flags & 1 == 1 {
        psa_connectwise::sign(&psa_connectwise::key_digest(KEY), parts.rest).into_bytes()
    } else {
        parts.first.to_vec()
    };
    if let Ok(value) = HeaderValue::from_bytes(&signature) {
        headers.insert(psa_connectwise::SIGNATURE_HEADER, value);
    }
    let request = WebhookRequest {
        headers,
        query: None,
        body: Bytes::copy_from_slice(parts.rest),
    };
    let _ = psa_connectwise::fuzzing::callback(&request, KEY, "demo", &hosts);
    let _ = psa_connectwise::fuzzing::key_body(parts.first);
    if let Ok(text) = std::str::from_utf8(parts.first) {
        let _ = psa_connectwise::fuzzing::key_host(text);
    }
});
