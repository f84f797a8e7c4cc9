//! Reads the vendor-shaped fixtures in `fixtures/connectwise/` through the
//! connector, served by a minimal stand-in server.

mod common;

use axum::routing::get;
use psa_connector::{Connector, Visibility, WebhookError};
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../../fixtures/connectwise/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const SIGNING_KEY: &str = "fixture-signing-key";

async fn serve() -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route(
            "/login/companyinfo/{c}",
            get(|| async { axum::Json(serde_json::json!({"Codebase": "v4_6_release/"})) }),
        )
        .route(
            "/v4_6_release/apis/3.0/service/tickets/48213",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    fixture("ticket.json"),
                )
            }),
        )
        .route(
            "/v4_6_release/apis/3.0/service/tickets/48213/notes",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    fixture("notes.json"),
                )
            }),
        )
        .route(
            "/v4_6_release/apis/3.0/service/tickets/1/notes",
            get(|| async {
                (
                    http::StatusCode::BAD_REQUEST,
                    fixture("error_invalid_object.json"),
                )
            }),
        )
        .route(
            "/v4_6_release/apis/3.0/system/callbackkey/index.rails",
            get(|| async { axum::Json(serde_json::json!({"signing_key": SIGNING_KEY})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn connector_for(addr: std::net::SocketAddr) -> psa_connectwise::ConnectWiseConnector {
    common::connector_with(psa_connectwise::ConnectWiseSettings {
        site_url: format!("http://{addr}"),
        company_id: "demo".into(),
        public_key: "pub".into(),
        private_key: "priv".into(),
        client_id: "5f2d7e3c-8a41-4b6e-9c0d-1e2f3a4b5c6d".into(),
        codebase: None,
        api_version: "2025.8".into(),
        callback_key_hosts: vec![],
    })
}

#[tokio::test]
async fn ticket_and_notes_fixtures_map_to_the_model() {
    let addr = serve().await;
    let c = connector_for(addr);
    let t = c.get_ticket("48213").await.unwrap();
    assert_eq!(t.number, "48213");
    assert_eq!(
        t.title,
        "Escalated: VPN tunnel to site B drops every 10 minutes"
    );
    assert_eq!(t.description, None);
    assert_eq!(t.status, "In Progress");
    assert_eq!(t.priority, "Priority 2 - Quick Response");
    assert_eq!(t.queue.as_deref(), Some("Co-Managed"));
    assert_eq!(t.marker.as_deref(), Some("psa-bridge:at-12345"));
    assert_eq!(t.fields["company"], "ACME");
    assert_eq!(t.fields["owner"], "jsmith");
    assert!(!t.closed);
    assert_eq!(t.updated_at.to_rfc3339(), "2026-11-21T16:40:55+00:00");

    let comments = c.list_comments("48213").await.unwrap();
    assert_eq!(comments.len(), 3);
    assert_eq!(comments[0].marker.as_deref(), Some("at-note-777"));
    assert_eq!(comments[0].visibility, Visibility::Public);
    assert_eq!(comments[1].visibility, Visibility::Internal);
    assert_eq!(comments[1].author.as_deref(), Some("John Smith"));
    // A resolution note marked internal stays internal.
    assert!(comments[2].resolution);
    assert_eq!(comments[2].visibility, Visibility::Internal);

    let err = c.list_comments("1").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Service Status 17 not found for Service Board 21 (status/id)"),
        "{err}"
    );
}

#[tokio::test]
async fn callback_fixtures_verify_when_signed() {
    let addr = serve().await;
    let c = connector_for(addr);
    for (name, entity_time) in [
        ("callback_ticket_updated.json", true),
        ("callback_ticket_deleted.json", false),
    ] {
        let mut v: Value = serde_json::from_str(&fixture(name)).unwrap();
        let key_url = v["Metadata"]["key_url"].as_str().unwrap().replace(
            "https://api-na.myconnectwise.net",
            &format!("http://{addr}"),
        );
        v["Metadata"]["key_url"] = Value::from(key_url);
        let body = serde_json::to_vec(&v).unwrap();
        let sig = psa_connectwise::sign(&psa_connectwise::key_digest(SIGNING_KEY), &body);
        let hints = c
            .verify_webhook(&common::webhook(body.clone(), Some(&sig), 48213))
            .await
            .unwrap();
        assert_eq!(hints.len(), 1);
        assert_eq!(hints[0].ticket_id, "48213");
        assert_eq!(hints[0].updated_at.is_some(), entity_time);
        assert_eq!(
            hints[0].dedup_key,
            format!("connectwise:hook:{}", v["MessageId"].as_str().unwrap())
        );
        // The unmodified fixture names a host not in the allow-list.
        let original = fixture(name).into_bytes();
        let r = c
            .verify_webhook(&common::webhook(original, Some(&sig), 48213))
            .await;
        assert!(matches!(r, Err(WebhookError::Unauthorized(_))), "{r:?}");
    }
}
