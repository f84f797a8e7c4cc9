//! Bad input and failure paths: webhooks that must be refused, hostile or
//! failing API answers that must become clear, correctly classified errors.

mod common;

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http::HeaderMap;
use psa_autotask::escape::to_autotask_json;
use psa_autotask::hooks::sign;
use psa_autotask::{default_limits, AutotaskConnector, AutotaskSettings};
use psa_connector::{Connector, ConnectorError, RetryAction, WebhookError, WebhookRequest};
use serde_json::json;

fn offline_connector() -> AutotaskConnector {
    let mut s = AutotaskSettings::new("bridge@example.com", "x", "y");
    s.api_url = Some("http://127.0.0.1:9/ATServicesRest/".into());
    s.webhook_secret = Some(common::HOOK_SECRET.into());
    AutotaskConnector::new(s, default_limits(), Duration::from_secs(1)).unwrap()
}

fn signed(body: &[u8], secret: &str) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    headers.insert("x-hook-signature", sign(secret, body).parse().unwrap());
    WebhookRequest {
        headers,
        query: None,
        body: Bytes::copy_from_slice(body),
    }
}

#[tokio::test]
async fn malformed_webhooks_are_malformed() {
    let c = offline_connector();
    for body in [
        &b"{not json"[..],
        b"[1,2]",
        br#"{"Action":"Update","EntityType":"Ticket"}"#,
        br#"{"Action":"Update","EntityType":"Ticket","Id":"abc"}"#,
        br#"{"Action":"Create","EntityType":"TicketNote","Id":5,"Fields":{}}"#,
    ] {
        match c.verify_webhook(&signed(body, common::HOOK_SECRET)).await {
            Err(e @ WebhookError::Malformed(_)) => assert_eq!(e.status_code(), 400),
            other => panic!("{} gave {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[tokio::test]
async fn wrong_or_missing_signatures_are_unauthorized() {
    let c = offline_connector();
    let body = br#"{"Action":"Update","EntityType":"Ticket","Id":1,"Guid":"g","SequenceNumber":1,"EventTime":"t"}"#;
    let wrong = signed(body, "another-secret");
    assert!(matches!(
        c.verify_webhook(&wrong).await,
        Err(WebhookError::Unauthorized(_))
    ));
    let mut garbage = signed(body, common::HOOK_SECRET);
    garbage
        .headers
        .insert("x-hook-signature", "sha1=%%%".parse().unwrap());
    assert!(matches!(
        c.verify_webhook(&garbage).await,
        Err(WebhookError::Unauthorized(_))
    ));
    let mut bare = signed(body, common::HOOK_SECRET);
    let value = sign(common::HOOK_SECRET, body)
        .trim_start_matches("sha1=")
        .to_string();
    bare.headers
        .insert("x-hook-signature", value.parse().unwrap());
    assert!(matches!(
        c.verify_webhook(&bare).await,
        Err(WebhookError::Unauthorized(_))
    ));
    // Malformed JSON without a valid signature is refused before parsing.
    let unsigned = WebhookRequest {
        headers: HeaderMap::new(),
        query: None,
        body: Bytes::from_static(b"{"),
    };
    assert!(matches!(
        c.verify_webhook(&unsigned).await,
        Err(WebhookError::Unauthorized(_))
    ));
    // A connector without a webhook secret accepts nothing.
    let mut s = AutotaskSettings::new("u", "s", "c");
    s.api_url = Some("http://127.0.0.1:9/ATServicesRest/".into());
    let no_secret = AutotaskConnector::new(s, default_limits(), Duration::from_secs(1)).unwrap();
    let good = signed(body, common::HOOK_SECRET);
    assert!(matches!(
        no_secret.verify_webhook(&good).await,
        Err(WebhookError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn escaped_bodies_verify_over_the_raw_bytes() {
    let c = offline_connector();
    let payload = json!({
        "Action": "Update", "Guid": "g-1", "EntityType": "Ticket", "Id": 77,
        "Fields": {"Title": "Müller & Söhne <VPN> + 'quotes' \"x\" \\ 😀"},
        "EventTime": "2026-11-25T10:00:00Z", "SequenceNumber": 3, "PersonId": 5
    });
    let body = to_autotask_json(&payload);
    assert!(body.contains(r"\u0026") && body.contains(r"\u002b") && body.is_ascii());
    let hints = c
        .verify_webhook(&signed(body.as_bytes(), common::HOOK_SECRET))
        .await
        .unwrap();
    assert_eq!(hints.len(), 1);
    assert_eq!(hints[0].ticket_id, "77");
    assert_eq!(
        hints[0].dedup_key,
        "autotask:hook:g-1:Ticket:77:3:2026-11-25T10:00:00Z"
    );
    // Re-serialising the parsed JSON decodes the strings: the signature is
    // then checked over the body re-escaped as Autotask does, and holds.
    let reserialised = serde_json::to_vec(&payload).unwrap();
    let mut request = signed(body.as_bytes(), common::HOOK_SECRET);
    request.body = Bytes::from(reserialised);
    assert!(c.verify_webhook(&request).await.is_ok());
    // Pretty-printing changes bytes outside strings: no longer the signed body.
    request.body = Bytes::from(serde_json::to_vec_pretty(&payload).unwrap());
    match c.verify_webhook(&request).await {
        Err(WebhookError::Unauthorized(m)) => assert!(m.contains("signature mismatch"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn fixture_webhooks_verify_and_give_hints() {
    let c = offline_connector();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/autotask/");
    let ticket = std::fs::read(format!("{dir}ticket-webhook-update.json")).unwrap();
    let hints = c
        .verify_webhook(&signed(&ticket, common::HOOK_SECRET))
        .await
        .unwrap();
    assert_eq!(hints[0].ticket_id, "351181");
    assert!(hints[0].dedup_key.starts_with("autotask:hook:6f1d2c1e-"));
    let note = std::fs::read(format!("{dir}ticketnote-webhook-create.json")).unwrap();
    let hints = c
        .verify_webhook(&signed(&note, common::HOOK_SECRET))
        .await
        .unwrap();
    assert_eq!(
        hints[0].ticket_id, "351181",
        "note hints name the parent ticket"
    );
    let deactivated = br#"{"Action":"Deactivated","Guid":"g","EntityType":"Ticket","Id":0}"#;
    assert!(c
        .verify_webhook(&signed(deactivated, common::HOOK_SECRET))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn fixture_query_response_is_read() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/autotask/tickets-query-response.json"
    ))
    .unwrap();
    let api = common::fake(vec![
        (
            "/tickets/entityinformation/fields",
            200,
            common::ticket_fields_json(),
        ),
        ("/tickets/query", 200, page),
    ])
    .await;
    let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
    s.api_url = Some(api);
    let c = common::connector(s);
    let hints = c
        .changed_since(Utc::now() - chrono::Duration::days(3650))
        .await
        .unwrap();
    // The two tickets of the one ticket query (its `or` group also finds
    // tickets that only gained a note).
    assert_eq!(hints.len(), 2, "{hints:?}");
    assert_eq!(
        hints[0].dedup_key,
        "autotask:poll:351181:2026-11-25T09:41:07.113Z"
    );
    let found = c
        .find_by_marker("psa-bridge:acme:7")
        .await
        .unwrap()
        .expect("marker found");
    assert_eq!(found.id, "351190");
    assert!(found.closed, "status 5 Complete is closed");
    assert_eq!(found.queue.as_deref(), Some("Level II Support"));
    assert_eq!(found.fields.get("companyID").map(String::as_str), Some("0"));
}

#[tokio::test]
async fn next_page_on_another_host_is_refused() {
    let page = json!({"items": [], "pageDetails": {"count": 0, "requestCount": 500,
        "nextPageUrl": "http://attacker.example/ATServicesRest/V1.0/Tickets/query?paging=x"}});
    let api = common::fake(vec![("/tickets/query", 200, page.to_string())]).await;
    let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
    s.api_url = Some(api);
    let err = common::connector(s)
        .changed_since(Utc::now())
        .await
        .unwrap_err();
    match err {
        ConnectorError::InvalidResponse(m) => assert!(m.contains("refusing"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn hostile_responses_are_invalid_not_panics() {
    let fields = common::ticket_fields_json();
    for item in [
        "{\"item\": 42}".to_string(),
        "{\"item\": {\"id\": \"not-a-number\"}}".to_string(),
        "{\"item\": {\"id\": 1, \"lastTrackedModificationDateTime\": \"garbage\"}}".to_string(),
        "<html>".to_string(),
        "[]".to_string(),
    ] {
        let api = common::fake(vec![
            ("/tickets/entityinformation/fields", 200, fields.clone()),
            ("/tickets/1", 200, item.clone()),
        ])
        .await;
        let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
        s.api_url = Some(api);
        match common::connector(s).get_ticket("1").await {
            Err(ConnectorError::InvalidResponse(_)) => {}
            other => panic!("{item} gave {other:?}"),
        }
    }
    let api = common::fake(vec![("/tickets/1", 200, "{\"item\": null}".into())]).await;
    let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
    s.api_url = Some(api);
    assert!(matches!(
        common::connector(s).get_ticket("1").await,
        Err(ConnectorError::NotFound(_))
    ));
}

#[tokio::test]
async fn wrong_secret_is_a_permanent_401_with_the_vendor_message() {
    let sim = common::sim().await;
    let mut s = common::settings(&sim);
    s.secret = "wrong".into();
    let err = common::connector(s).get_ticket("1001").await.unwrap_err();
    match &err {
        ConnectorError::Http {
            status: 401,
            message,
            ..
        } => {
            assert!(message.contains("authentication failed"), "{message}");
            assert!(
                !message.contains("wrong"),
                "the secret must not leak: {message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.retry_action(), RetryAction::DontRetry);
}

#[tokio::test]
async fn unknown_user_fails_zone_discovery() {
    let sim = common::sim().await;
    let mut s = common::settings(&sim);
    s.username = "nobody@example.com".into();
    // Autotask answers an unknown user with 500 + errors: a refusal, not a fault.
    match common::connector(s).discover().await {
        Err(e @ ConnectorError::Rejected { status: 500, .. }) => {
            assert!(e.to_string().contains("zone discovery"), "{e}");
            assert_eq!(e.retry_action(), RetryAction::DontRetry);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rate_ceiling_429_carries_retry_after() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    c.discover().await.unwrap();
    let id = sim
        .user_create_ticket("t", "d", "Level I Support", "Low")
        .id
        .to_string();
    sim.control().set_rate_limit(Some(1), 7);
    let mut saw = None;
    for _ in 0..4 {
        if let Err(e) = c.get_ticket(&id).await {
            saw = Some(e);
            break;
        }
    }
    match saw {
        Some(e @ ConnectorError::Http { status: 429, .. }) => {
            assert_eq!(
                e.retry_action(),
                RetryAction::Retry {
                    after: Some(Duration::from_secs(7))
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unknown_labels_and_placements_are_clear() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    let t = sim.user_create_ticket("t", "d", "Level I Support", "Low");
    let id = t.id.to_string();
    let mut new = psa_connector::NewTicket {
        title: "x".into(),
        description: "y".into(),
        status: None,
        priority: None,
        marker: "m-1".into(),
        placement: [("queue".to_string(), "Nope".to_string())].into(),
        fields: Default::default(),
    };
    match c.create_ticket(&new).await {
        Err(ConnectorError::UnknownValue {
            kind: "queue",
            valid,
            ..
        }) => assert!(valid.contains("Escalate to MSP")),
        other => panic!("{other:?}"),
    }
    new.placement = [("board".to_string(), "x".to_string())].into();
    assert!(matches!(
        c.create_ticket(&new).await,
        Err(ConnectorError::Config(_))
    ));
    let update = psa_connector::TicketUpdate {
        priority: Some("Urgentest".into()),
        ..Default::default()
    };
    assert!(matches!(
        c.update_ticket(&id, &update).await,
        Err(ConnectorError::UnknownValue {
            kind: "priority",
            ..
        })
    ));
    let missing = psa_connector::TicketUpdate {
        title: Some("x".into()),
        ..Default::default()
    };
    assert!(matches!(
        c.update_ticket("999999", &missing).await,
        Err(ConnectorError::NotFound(_))
    ));
    // No queue and no resource: the simulator answers like Autotask (500 +
    // errors), and the connector knows that for a permanent refusal.
    new.placement = Default::default();
    match c.create_ticket(&new).await {
        Err(e @ ConnectorError::Rejected { status: 500, .. }) => {
            assert!(e.to_string().contains("queueID"), "{e}");
            assert_eq!(e.retry_action(), RetryAction::DontRetry);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn missing_marker_udf_is_a_config_error() {
    let sim = common::sim().await;
    let mut s = common::settings(&sim);
    s.marker_udf = "No Such UDF".into();
    match common::connector(s).discover().await {
        Err(ConnectorError::Config(m)) => assert!(m.contains("No Such UDF"), "{m}"),
        other => panic!("{other:?}"),
    }
}
