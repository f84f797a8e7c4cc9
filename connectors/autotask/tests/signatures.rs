//! `X-Hook-Signature`: known-answer vectors computed outside this crate, and
//! verification of bodies whose strings arrived in another encoding than the
//! one Autotask signed.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use psa_autotask::hooks::sign;
use psa_autotask::{default_limits, AutotaskConnector, AutotaskSettings};
use psa_connector::{Connector, WebhookError, WebhookRequest};

const SECRET: &str = "hook-secret-0123";

fn connector() -> AutotaskConnector {
    let mut s = AutotaskSettings::new("bridge@example.com", "x", "y");
    s.api_url = Some("http://127.0.0.1:9/ATServicesRest/".into());
    s.webhook_secret = Some(SECRET.into());
    AutotaskConnector::new(s, default_limits(), Duration::from_secs(1)).unwrap()
}

fn request(body: &[u8], signature: &str) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert("x-hook-signature", signature.parse().unwrap());
    WebhookRequest {
        headers,
        query: None,
        body: Bytes::copy_from_slice(body),
    }
}

async fn reason(c: &AutotaskConnector, r: &WebhookRequest) -> String {
    match c.verify_webhook(r).await {
        Err(e @ WebhookError::Unauthorized(_)) => {
            assert_eq!(e.status_code(), 401);
            e.to_string()
        }
        other => panic!("expected a 401, got {other:?}"),
    }
}

/// Expected values computed independently of this crate, with
/// `python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b"hook-secret-0123", BODY, hashlib.sha1).digest()))'`
/// and checked with `openssl dgst -sha1 -hmac hook-secret-0123 -binary | base64`.
#[tokio::test]
async fn known_answer_vectors() {
    let c = connector();
    let body = br#"{"Action":"Update","EntityType":"Ticket","Id":351181}"#;
    let expected = "sha1=SEslLfz5lKXpCssJ+Vb6cnuhL6I=";
    assert_eq!(sign(SECRET, body), expected, "the crate's signer");
    let hints = c.verify_webhook(&request(body, expected)).await.unwrap();
    assert_eq!(hints[0].ticket_id, "351181");

    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/autotask/ticket-webhook-update.json"
    ))
    .unwrap();
    assert_eq!(
        fixture.len(),
        331,
        "the vector is for the fixture's exact bytes"
    );
    let expected = "sha1=3irusCE4vvEj2w+ztdng3kIQ3sY=";
    assert_eq!(sign(SECRET, &fixture), expected);
    c.verify_webhook(&request(&fixture, expected))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_body_delivered_as_raw_utf8_still_verifies() {
    let c = connector();
    let raw = r#"{"Action":"Update","EntityType":"Ticket","Fields":{"Title":"Müller & Söhne + VPN"},"Id":351181}"#;
    // Signed (independently computed) over the upper-case escaped form Autotask may send:
    let upper = r#"{"Action":"Update","EntityType":"Ticket","Fields":{"Title":"M\u00FCller \u0026 S\u00F6hne \u002B VPN"},"Id":351181}"#;
    let upper_sig = "sha1=7z+u8vtV1qdSK8s4mjLVC6DTAys=";
    assert_eq!(sign(SECRET, upper.as_bytes()), upper_sig);
    for delivered in [raw, upper] {
        let hints = c
            .verify_webhook(&request(delivered.as_bytes(), upper_sig))
            .await
            .unwrap_or_else(|e| panic!("{delivered}: {e}"));
        assert_eq!(hints[0].ticket_id, "351181");
    }
    // Signed over the lower-case form; delivered raw, or escaped in upper case.
    let lower = upper
        .replace(r"\u00FC", r"\u00fc")
        .replace(r"\u00F6", r"\u00f6")
        .replace(r"\u002B", r"\u002b");
    let lower_sig = sign(SECRET, lower.as_bytes());
    for delivered in [raw, upper] {
        c.verify_webhook(&request(delivered.as_bytes(), &lower_sig))
            .await
            .unwrap_or_else(|e| panic!("{delivered}: {e}"));
    }
    // The same text with JSON's usual escapes (\" and \\) instead of \u0022 and \u005c.
    let quoted = r#"{"Fields":{"Title":"say \"hi\" \\ there"},"Id":5,"EntityType":"Ticket","Action":"Update"}"#;
    let signed = r#"{"Fields":{"Title":"say \u0022hi\u0022 \u005c there"},"Id":5,"EntityType":"Ticket","Action":"Update"}"#;
    c.verify_webhook(&request(
        quoted.as_bytes(),
        &sign(SECRET, signed.as_bytes()),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_tampered_body_is_still_a_signature_mismatch() {
    let c = connector();
    let upper = r#"{"Action":"Update","EntityType":"Ticket","Fields":{"Title":"M\u00FCller \u0026 S\u00F6hne \u002B VPN"},"Id":351181}"#;
    let upper_sig = "sha1=7z+u8vtV1qdSK8s4mjLVC6DTAys=";
    for tampered in [
        // Another ticket id, raw and escaped.
        r#"{"Action":"Update","EntityType":"Ticket","Fields":{"Title":"Müller & Söhne + VPN"},"Id":351182}"#,
        r#"{"Action":"Update","EntityType":"Ticket","Fields":{"Title":"M\u00FCller \u0026 S\u00F6hne \u002B VPN"},"Id":351182}"#,
        // Another character inside a string.
        r#"{"Action":"Update","EntityType":"Ticket","Fields":{"Title":"Muller & Söhne + VPN"},"Id":351181}"#,
        // Whitespace outside strings is not an encoding: the bytes differ.
        r#"{"Action": "Update","EntityType":"Ticket","Fields":{"Title":"Müller & Söhne + VPN"},"Id":351181}"#,
    ] {
        let r = request(tampered.as_bytes(), upper_sig);
        let why = reason(&c, &r).await;
        assert!(why.contains("signature mismatch"), "{tampered}: {why}");
    }
    // The genuine body still verifies with that header.
    c.verify_webhook(&request(upper.as_bytes(), upper_sig))
        .await
        .unwrap();
}
