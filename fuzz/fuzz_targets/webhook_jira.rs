//! Jira webhooks through `Connector::verify_webhook`: any signature header,
//! delivery identifier and body. Flag bit 0: the signature is right for
//! the body (else the first part is the header); bit 1: the first part is
//! also sent as `X-Atlassian-Webhook-Identifier`.
#![no_main]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use psa_connector::{Connector, WebhookRequest};
use psa_jira::fuzzing::{connector, WEBHOOK_SECRET};
use psa_jira::webhook::{sign, IDENTIFIER_HEADER, SIGNATURE_HEADER};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data);
    let first = String::from_utf8_lossy(parts.first).into_owned();
    let signature = if parts.flags & 1 == 1 {
        sign(WEBHOOK_SECRET, parts.rest)
    } else {
        first.clone()
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&signature) {
        headers.insert(SIGNATURE_HEADER, value);
    }
    if parts.flags & 2 == 2 {
        if let Ok(value) = HeaderValue::from_str(&first) {
            headers.insert(IDENTIFIER_HEADER, value);
        }
    }
    let request = WebhookRequest {
        headers,
        query: None,
        body: Bytes::copy_from_slice(parts.rest),
    };
    let result = futures::executor::block_on(connector().verify_webhook(&request));
    if parts.flags & 1 == 0 && signature != sign(WEBHOOK_SECRET, parts.rest) {
        // A signature made without the secret never verifies.
        assert!(result.is_err(), "accepted an unsigned webhook");
    }
});
