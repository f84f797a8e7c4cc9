//! Notifications per the bridge's receiver contract: the simulator's
//! business rule signs them, the connector accepts genuine ones and refuses
//! a stale or future timestamp, a wrong signature, missing headers and an
//! oversized body.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use psa_connector::{Connector, WebhookError, WebhookRequest};
use psa_servicenow::signature::sign;

#[tokio::test]
async fn genuine_notices_are_accepted_and_forged_or_stale_ones_refused() {
    let sim = common::sim().await;
    let clock = common::TestClock::new();
    let connector = common::connector_with_clock(common::settings(&sim), &clock);
    let inc = sim.user_create_incident("Notify", "");
    let genuine = common::notice(&sim, &inc.sys_id, common::HOOK_SECRET, clock.now());
    let hints = connector.verify_webhook(&genuine).await.unwrap();
    assert_eq!(hints.len(), 1);
    assert_eq!(hints[0].ticket_id, inc.sys_id);
    assert!(hints[0].updated_at.is_some());

    // Within five minutes either way: accepted.
    for skew in [-299i64, 299] {
        let at = clock.now() + chrono::Duration::seconds(skew);
        let request = common::notice(&sim, &inc.sys_id, common::HOOK_SECRET, at);
        connector.verify_webhook(&request).await.unwrap();
    }
    // Stale (captured and replayed) or from the future: refused.
    for skew in [-301i64, 301, -86_400] {
        let at = clock.now() + chrono::Duration::seconds(skew);
        let request = common::notice(&sim, &inc.sys_id, common::HOOK_SECRET, at);
        match connector.verify_webhook(&request).await {
            Err(e @ WebhookError::Unauthorized(_)) => {
                assert_eq!(e.status_code(), 401);
                assert!(e.to_string().contains("stale"), "{e}");
            }
            other => panic!("skew {skew}: expected 401, got {other:?}"),
        }
    }
    // The same genuine request, replayed after six minutes.
    clock.advance(Duration::from_secs(360));
    assert!(matches!(
        connector.verify_webhook(&genuine).await,
        Err(WebhookError::Unauthorized(_))
    ));

    // Wrong secret; timestamp changed after signing.
    let forged = common::notice(&sim, &inc.sys_id, "not-the-secret", clock.now());
    match connector.verify_webhook(&forged).await {
        Err(WebhookError::Unauthorized(reason)) => assert!(reason.contains("mismatch"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let mut moved = common::notice(&sim, &inc.sys_id, common::HOOK_SECRET, clock.now());
    let later = (clock.now().timestamp() + 1).to_string();
    moved
        .headers
        .insert("x-bridge-timestamp", later.parse().unwrap());
    assert!(matches!(
        connector.verify_webhook(&moved).await,
        Err(WebhookError::Unauthorized(_))
    ));
    let mut unsigned = common::notice(&sim, &inc.sys_id, common::HOOK_SECRET, clock.now());
    unsigned.headers.remove("x-bridge-signature");
    assert!(matches!(
        connector.verify_webhook(&unsigned).await,
        Err(WebhookError::Unauthorized(_))
    ));

    // Signed but not a notice: 400. Oversized: refused before anything else.
    let ts = clock.now().timestamp().to_string();
    let body = b"[1,2,3]".to_vec();
    let mut headers = HeaderMap::new();
    headers.insert("x-bridge-timestamp", ts.parse().unwrap());
    headers.insert(
        "x-bridge-signature",
        sign(common::HOOK_SECRET, &ts, &body).parse().unwrap(),
    );
    let malformed = WebhookRequest {
        headers: headers.clone(),
        query: None,
        body: body.into(),
    };
    assert!(matches!(
        connector.verify_webhook(&malformed).await,
        Err(WebhookError::Malformed(_))
    ));
    let huge = vec![b' '; psa_servicenow::MAX_NOTICE_BYTES + 1];
    headers.insert(
        "x-bridge-signature",
        sign(common::HOOK_SECRET, &ts, &huge).parse().unwrap(),
    );
    let oversized = WebhookRequest {
        headers,
        query: None,
        body: huge.into(),
    };
    assert!(matches!(
        connector.verify_webhook(&oversized).await,
        Err(WebhookError::Malformed(_))
    ));
    // Registration is manual (a business rule): nothing to do, no error.
    connector
        .register_webhook("https://bridge.example/webhooks/sn")
        .await
        .unwrap();
}

#[tokio::test]
async fn the_simulator_sends_signed_notices_for_incident_changes() {
    let sim = common::sim().await;
    let connector = Arc::new(common::connector(common::settings(&sim)));
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/sn", listener.local_addr().unwrap());
    let app = {
        let connector = connector.clone();
        let received = received.clone();
        axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let connector = connector.clone();
            let received = received.clone();
            async move {
                let request = WebhookRequest {
                    headers,
                    query: None,
                    body,
                };
                match connector.verify_webhook(&request).await {
                    Ok(hints) => {
                        let mut r = received.lock().unwrap();
                        r.extend(hints.into_iter().map(|h| h.ticket_id));
                        axum::http::StatusCode::OK
                    }
                    Err(e) => axum::http::StatusCode::from_u16(e.status_code()).unwrap(),
                }
            }
        })
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    sim.set_notifications(Some((&url, common::HOOK_SECRET)));
    let inc = sim.user_create_incident("Announced", "");
    sim.user_add_comment(&inc.sys_id, "hello", false);
    sim.wait_notifications_idle().await;
    assert_eq!(sim.control().webhook_answers(), vec![200, 200]);
    assert_eq!(
        *received.lock().unwrap(),
        vec![inc.sys_id.clone(), inc.sys_id.clone()]
    );

    // With another secret on the instance, every notice is refused 401.
    sim.set_notifications(Some((&url, "rotated-secret")));
    sim.user_add_comment(&inc.sys_id, "again", false);
    sim.wait_notifications_idle().await;
    assert_eq!(sim.control().webhook_answers(), vec![200, 200, 401]);
    assert_eq!(
        received.lock().unwrap().len(),
        2,
        "nothing taken from a refused notice"
    );
}

/// A hostile timestamp at the ends of the integer range is refused as stale,
/// not an arithmetic overflow.
#[tokio::test]
async fn extreme_timestamps_are_refused_not_overflowed() {
    let sim = common::sim().await;
    let clock = common::TestClock::new();
    let connector = common::connector_with_clock(common::settings(&sim), &clock);
    let inc = sim.user_create_incident("Notify", "");
    for extreme in [i64::MIN, i64::MAX, i64::MIN + 1] {
        let mut request = common::notice(&sim, &inc.sys_id, common::HOOK_SECRET, clock.now());
        request
            .headers
            .insert("x-bridge-timestamp", extreme.to_string().parse().unwrap());
        match connector.verify_webhook(&request).await {
            Err(WebhookError::Unauthorized(reason)) => {
                assert!(reason.contains("stale"), "{extreme}: {reason}")
            }
            other => panic!("{extreme}: expected 401, got {other:?}"),
        }
    }
}
