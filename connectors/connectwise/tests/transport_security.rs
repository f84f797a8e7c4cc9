//! TLS certificate verification is on for both ConnectWise clients: the API
//! client and the callback signing-key fetch refuse a loopback HTTPS server
//! with a self-signed certificate before any request is sent.

use std::time::Duration;

use psa_connector::probe::SelfSignedServer;
use psa_connector::{Connector, WebhookError};
use psa_connectwise::{
    default_limits, key_digest, sign, ConnectWiseConnector, ConnectWiseSettings, SIGNATURE_HEADER,
};
use serde_json::json;

fn settings(origin: &str) -> ConnectWiseSettings {
    let host = origin.trim_start_matches("https://");
    ConnectWiseSettings {
        site_url: format!("{origin}/"),
        company_id: "demo".into(),
        public_key: "pub".into(),
        private_key: "priv".into(),
        client_id: "5f2d7e3c-8a41-4b6e-9c0d-1e2f3a4b5c6d".into(),
        codebase: Some("v1/".into()),
        api_version: "2025.8".into(),
        callback_key_hosts: vec![host.to_string()],
    }
}

fn connector(settings: ConnectWiseSettings) -> ConnectWiseConnector {
    // A long timeout: a slow machine never turns the refusal into a timeout.
    ConnectWiseConnector::new(settings, default_limits(), Duration::from_secs(60)).unwrap()
}

#[tokio::test]
async fn the_api_client_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let err = connector(settings(&server.origin))
        .get_ticket("1")
        .await
        .unwrap_err();
    server.assert_refused(&err);
}

#[tokio::test]
async fn codebase_discovery_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let mut s = settings(&server.origin);
    s.codebase = None;
    let err = connector(s).get_ticket("1").await.unwrap_err();
    server.assert_refused(&err);
}

/// The key fetch's error reveals nothing about the endpoint (by design: the
/// callback is unauthenticated); the refusal shows as "unavailable" and no
/// handshake completes. The certificate error is in the log.
#[tokio::test]
async fn the_callback_key_fetch_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let connector = connector(settings(&server.origin));
    let body = serde_json::to_vec(&json!({
        "MessageId": "m-1", "FromUrl": "127.0.0.1", "CompanyId": "demo", "MemberId": "jsmith",
        "Action": "updated", "Type": "ticket", "ID": 1001, "Entity": null,
        "Metadata": {"key_url": format!("{}/callback-key", server.origin)},
    }))
    .unwrap();
    let signature = sign(&key_digest("stub-signing-key"), &body);
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
    let request = psa_connector::WebhookRequest {
        headers,
        query: Some("id=1001".into()),
        body: body.into(),
    };
    let err = connector.verify_webhook(&request).await.unwrap_err();
    assert!(matches!(err, WebhookError::Unavailable(_)), "{err:?}");
    assert!(server.connections() > 0, "the key fetch was tried");
    assert_eq!(server.handshakes_completed(), 0);
}
