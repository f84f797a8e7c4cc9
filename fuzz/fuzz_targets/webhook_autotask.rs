//! Autotask webhooks through `Connector::verify_webhook`: any signature
//! header and body; with flag bit 0 the body is signed with the right
//! secret, so the payload parser is reached too.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use psa_autotask::{default_limits, AutotaskConnector, AutotaskSettings};
use psa_connector::{Connector, WebhookRequest};

#[path = "common.rs"]
mod common;

const SECRET: &str = "fuzz-webhook-secret";

fn connector() -> &'static AutotaskConnector {
    static C: OnceLock<AutotaskConnector> = OnceLock::new();
    C.get_or_init(|| {
        let mut settings = AutotaskSettings::new("user@example.invalid", "s", "c");
        settings.api_url = Some("https://autotask.example.invalid/".into());
        settings.webhook_secret = Some(SECRET.into());
        AutotaskConnector::new(settings, default_limits(), Duration::from_secs(1)).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let parts = common::split(data);
    let mut headers = HeaderMap::new();
    let signature = if parts.flags & 1 == 1 {
        psa_autotask::hooks::sign(SECRET, parts.rest).into_bytes()
    } else {
        parts.first.to_vec()
    };
    if let Ok(value) = HeaderValue::from_bytes(&signature) {
        headers.insert("x-hook-signature", value);
    }
    let request = WebhookRequest {
        headers,
        query: None,
        body: Bytes::copy_from_slice(parts.rest),
    };
    let result = futures::executor::block_on(connector().verify_webhook(&request));
    if parts.flags & 1 == 0 && !signature.starts_with(b"sha1=") {
        assert!(result.is_err(), "accepted without a sha1= signature");
    }
});
