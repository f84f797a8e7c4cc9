//! Bad input and failure paths: refused webhooks, vendor errors, throttling,
//! foreign `Link` targets and summary truncation.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use psa_connector::{Connector, ConnectorError, NewTicket, TicketUpdate, WebhookError};
use serde_json::Value;

/// A listener that counts connections and never answers.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, count)
}

/// A ticket for `(board, company)` with no status or priority given.
fn new_ticket(title: &str, description: &str, marker: &str, place: (&str, &str)) -> NewTicket {
    NewTicket {
        title: title.into(),
        description: description.into(),
        status: None,
        priority: None,
        marker: marker.into(),
        placement: BTreeMap::from([
            ("board".into(), place.0.into()),
            ("company".into(), place.1.into()),
        ]),
        fields: BTreeMap::new(),
    }
}

fn with_key_url(body: &[u8], key_url: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    v["Metadata"]["key_url"] = Value::from(key_url);
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test]
async fn key_url_on_a_foreign_host_is_refused_without_fetching() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("x", "Co-Managed", "ACME", "Priority 3 - Normal Response");
    let (body, sig) = sim.signed_callback(t.id, "updated");
    let (port, count) = counting_listener().await;
    let evil = with_key_url(
        &body,
        &format!("http://127.0.0.1:{port}/system/callbackkey/index.rails?id=x"),
    );
    let result = connector
        .verify_webhook(&common::webhook(evil, Some(&sig), t.id))
        .await;
    assert!(
        matches!(result, Err(WebhookError::Unauthorized(_))),
        "{result:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "no fetch from a foreign host"
    );
}

#[tokio::test]
async fn malformed_bodies_are_malformed() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let r = connector
        .verify_webhook(&common::webhook(b"{not json".to_vec(), Some("AAAA"), 1))
        .await;
    assert!(matches!(r, Err(WebhookError::Malformed(_))), "{r:?}");

    let t = sim.user_create_ticket("x", "Co-Managed", "ACME", "Priority 3 - Normal Response");
    let (body, _) = sim.signed_callback(t.id, "updated");
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    let entity: Value = serde_json::from_str(v["Entity"].as_str().unwrap()).unwrap();
    v["Entity"] = entity; // an object, not a JSON string
    let r = connector
        .verify_webhook(&common::webhook(
            serde_json::to_vec(&v).unwrap(),
            Some("AAAA"),
            t.id,
        ))
        .await;
    assert!(matches!(r, Err(WebhookError::Malformed(_))), "{r:?}");
}

#[tokio::test]
async fn wrong_or_missing_signature_is_unauthorized() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("x", "Co-Managed", "ACME", "Priority 3 - Normal Response");
    let (body, sig) = sim.signed_callback(t.id, "updated");
    let wrong = psa_connectwise::sign(&psa_connectwise::key_digest("not-the-key"), &body);
    for bad in [Some(wrong.as_str()), Some("%%%"), None] {
        let r = connector
            .verify_webhook(&common::webhook(body.clone(), bad, t.id))
            .await;
        assert!(
            matches!(r, Err(WebhookError::Unauthorized(_))),
            "{bad:?}: {r:?}"
        );
    }
    let hints = connector
        .verify_webhook(&common::webhook(body, Some(&sig), t.id))
        .await
        .unwrap();
    assert_eq!(hints[0].ticket_id, t.id.to_string());
    assert!(hints[0].dedup_key.starts_with("connectwise:hook:"));
    assert_eq!(hints[0].updated_at, Some(t.last_updated));
}

#[tokio::test]
async fn key_endpoint_down_is_unavailable() {
    let sim = common::start_sim().await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let mut settings = common::settings(&sim);
    settings
        .callback_key_hosts
        .push(format!("127.0.0.1:{dead_port}"));
    let connector = common::connector_with(settings);
    let t = sim.user_create_ticket("x", "Co-Managed", "ACME", "Priority 3 - Normal Response");
    let (body, sig) = sim.signed_callback(t.id, "updated");
    let body = with_key_url(
        &body,
        &format!("http://127.0.0.1:{dead_port}/system/callbackkey/index.rails?id=x"),
    );
    let r = connector
        .verify_webhook(&common::webhook(body, Some(&sig), t.id))
        .await;
    assert!(matches!(r, Err(WebhookError::Unavailable(_))), "{r:?}");
}

#[tokio::test]
async fn summaries_over_100_chars_are_truncated() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let long = "Ü".repeat(150);
    let created = connector
        .create_ticket(&new_ticket(
            &long,
            "line one\r\nline two",
            "trunc-1",
            ("Co-Managed", "ACME"),
        ))
        .await
        .unwrap();
    assert_eq!(created.title.chars().count(), 100);
    assert_eq!(created.status, "New", "board default status");
    let id: i64 = created.id.parse().unwrap();
    // Newlines come back as spaces; the marker line identifies the bridge's initial note.
    assert_eq!(
        sim.ticket(id).unwrap().initial_description,
        "line one line two [psa-bridge:trunc-1]"
    );
    connector
        .update_ticket(
            &created.id,
            &TicketUpdate {
                title: Some("x".repeat(101)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(sim.ticket(id).unwrap().summary, "x".repeat(100));
}

#[tokio::test]
async fn vendor_400_is_permanent_with_the_vendor_message() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let err = connector
        .create_ticket(&new_ticket("t", "", "m-400", ("Co-Managed", "NOPE")))
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Http {
            status: 400,
            message,
            ..
        } => {
            assert!(message.contains("ticket object is invalid"), "{message}");
            assert!(message.contains("(company)"), "{message}");
        }
        other => panic!("expected HTTP 400, got {other:?}"),
    }
    assert!(!err.is_retryable());
    let bad_board = connector
        .create_ticket(&new_ticket("t", "", "m-400b", ("Nope", "ACME")))
        .await;
    assert!(
        matches!(
            bad_board,
            Err(ConnectorError::UnknownValue { kind: "board", .. })
        ),
        "{bad_board:?}"
    );
}

#[tokio::test]
async fn throttling_carries_retry_after() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    connector.discover().await.unwrap();
    sim.control().set_rate_limit(Some(1), 7);
    let mut throttled = None;
    for _ in 0..3 {
        if let Err(e) = connector.get_ticket("1001").await {
            if matches!(e, ConnectorError::Http { status: 429, .. }) {
                throttled = Some(e);
                break;
            }
        }
    }
    let e = throttled.expect("a 429");
    match &e {
        ConnectorError::Http {
            retry_after,
            message,
            ..
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
            assert!(message.contains("Too many requests"), "{message}");
        }
        _ => unreachable!(),
    }
    assert!(e.is_retryable());
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_401() {
    let sim = common::start_sim().await;
    let mut settings = common::settings(&sim);
    settings.private_key = "wrong".into();
    let err = common::connector_with(settings)
        .get_ticket("1001")
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(401), "{err:?}");
    assert!(!err.is_retryable());
    assert!(!format!("{err}").contains("wrong"));
}

#[tokio::test]
async fn link_next_on_another_origin_is_refused() {
    use axum::routing::get;
    let (evil_port, evil_count) = counting_listener().await;
    let app = axum::Router::new()
        .route("/login/companyinfo/{c}", get(|| async { axum::Json(serde_json::json!({"Codebase": "v1/"})) }))
        .route(
            "/v1/apis/3.0/service/boards",
            get(move || async move {
                (
                    [("link", format!("<http://127.0.0.1:{evil_port}/v1/apis/3.0/service/boards?page=2>; rel=\"next\""))],
                    axum::Json(serde_json::json!([{"id": 1, "name": "B"}])),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sim = common::start_sim().await;
    let mut settings = common::settings(&sim);
    settings.site_url = format!("http://{addr}/");
    let err = common::connector_with(settings)
        .discover()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidResponse(ref m) if m.contains("refusing")),
        "{err:?}"
    );
    assert_eq!(evil_count.load(Ordering::SeqCst), 0);
}
