//! ServiceNow notifications through `Connector::verify_webhook`: any
//! timestamp, signature and body. Flag bit 0: the timestamp is the
//! connector's "now" (else the first part is the timestamp); bit 1: the
//! signature is right for that timestamp and body.
#![no_main]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use psa_connector::{Connector, WebhookRequest};
use psa_servicenow::fuzzing::{connector, NOW, WEBHOOK_SECRET};
use psa_servicenow::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data);
    let timestamp = if parts.flags & 1 == 1 {
        NOW.to_string()
    } else {
        String::from_utf8_lossy(parts.first).into_owned()
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&timestamp) {
        headers.insert(TIMESTAMP_HEADER, value);
    }
    let signature = if parts.flags & 2 == 2 {
        sign(WEBHOOK_SECRET, timestamp.trim(), parts.rest)
    } else {
        format!("sha256={}", String::from_utf8_lossy(parts.first))
    };
    if let Ok(value) = HeaderValue::from_str(&signature) {
        headers.insert(SIGNATURE_HEADER, value);
    }
    let request = WebhookRequest {
        headers,
        query: None,
        body: Bytes::copy_from_slice(parts.rest),
    };
    let result = futures::executor::block_on(connector().verify_webhook(&request));
    if parts.flags & 2 == 0 {
        // A signature made without the secret never verifies.
        assert!(result.is_err(), "accepted an unsigned notification");
    }
});
