//! The signing-key fetch an unauthenticated callback can trigger: bounded
//! cache that evicts one key, a cap on fetches in flight, errors that reveal
//! nothing about the key endpoint, and callbacks for another company answered
//! (after their signature is checked) without change hints.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use psa_connector::{Connector, WebhookError};
use psa_connectwise::{key_digest, sign, ConnectWiseConnector, ConnectWiseSettings};
use serde_json::{json, Value};

const KEY: &str = "stub-signing-key";

/// Settings for a site on `port` (whose host is then the default key host).
fn settings(port: u16) -> ConnectWiseSettings {
    ConnectWiseSettings {
        site_url: format!("http://127.0.0.1:{port}/"),
        company_id: "demo".into(),
        public_key: "pub".into(),
        private_key: "priv".into(),
        client_id: "5f2d7e3c-8a41-4b6e-9c0d-1e2f3a4b5c6d".into(),
        codebase: Some("v1/".into()),
        api_version: "2025.8".into(),
        callback_key_hosts: vec![],
    }
}

fn connector_for(port: u16) -> ConnectWiseConnector {
    common::connector_with(settings(port))
}

/// A signed callback whose key lives at `key_url`.
fn callback(company: &str, key_url: &str) -> psa_connector::WebhookRequest {
    let body = serde_json::to_vec(&json!({
        "MessageId": "m-1", "FromUrl": "127.0.0.1", "CompanyId": company, "MemberId": "jsmith",
        "Action": "updated", "Type": "ticket", "ID": 1001, "Entity": null,
        "Metadata": {"key_url": key_url},
    }))
    .unwrap();
    let sig = sign(&key_digest(KEY), &body);
    common::webhook(body, Some(&sig), 1001)
}

/// A key server answering every request with `answer`, counting requests.
async fn key_server(answer: fn() -> (u16, Value)) -> (u16, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            let (status, body) = answer();
            (
                http::StatusCode::from_u16(status).unwrap(),
                axum::Json(body),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, count)
}

#[tokio::test]
async fn a_full_key_cache_evicts_one_key_not_all() {
    let (port, count) = key_server(|| (200, json!({"signing_key": KEY}))).await;
    let connector = connector_for(port);
    let url = |n: usize| format!("http://127.0.0.1:{port}/k?id={n}");
    // 257 distinct key URLs: one more than the cache holds.
    for n in 0..=256 {
        connector
            .verify_webhook(&callback("demo", &url(n)))
            .await
            .unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 257);
    for n in 1..=256 {
        connector
            .verify_webhook(&callback("demo", &url(n)))
            .await
            .unwrap();
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        257,
        "the 256 most recent keys are still cached"
    );
    connector
        .verify_webhook(&callback("demo", &url(0)))
        .await
        .unwrap();
    assert_eq!(
        count.load(Ordering::SeqCst),
        258,
        "only the oldest was evicted"
    );
}

#[tokio::test]
async fn a_forged_key_url_is_fetched_once_then_refused_from_memory() {
    let (port, count) = key_server(|| (404, json!({"code": "NotFound"}))).await;
    let connector = connector_for(port);
    let forged = callback("demo", &format!("http://127.0.0.1:{port}/k?id=forged"));
    for _ in 0..5 {
        let r = connector.verify_webhook(&forged).await;
        assert!(matches!(r, Err(WebhookError::Unauthorized(_))), "{r:?}");
    }
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn key_endpoint_errors_reveal_nothing_to_the_caller() {
    let (port, _) = key_server(|| {
        (
            500,
            json!({"message": "db-primary.internal.corp:5432 refused"}),
        )
    })
    .await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let connector = common::connector_with(ConnectWiseSettings {
        callback_key_hosts: vec![
            format!("127.0.0.1:{port}"),
            format!("127.0.0.1:{dead_port}"),
        ],
        ..settings(port)
    });
    for (key_port, secret_bits) in [
        (port, vec!["db-primary", "5432", "500", "internal"]),
        (dead_port, vec!["127.0.0.1", "refused", "error sending"]),
    ] {
        let r = connector
            .verify_webhook(&callback(
                "demo",
                &format!("http://127.0.0.1:{key_port}/k?id=1"),
            ))
            .await;
        let Err(e @ WebhookError::Unavailable(_)) = r else {
            panic!("expected Unavailable, got {r:?}");
        };
        let text = e.to_string();
        for bit in secret_bits.iter().chain([&key_port.to_string().as_str()]) {
            assert!(!text.contains(bit), "{bit:?} leaked in {text:?}");
        }
    }
}

/// Accepts connections and never answers, keeping them open.
async fn silent_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let held = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.lock().unwrap().push(socket);
        }
    });
    (port, count)
}

#[tokio::test]
async fn key_fetches_in_flight_are_capped() {
    let (port, count) = silent_server().await;
    let connector = Arc::new(connector_for(port));
    let mut hung = Vec::new();
    let mut n = 0;
    // Start fetches until the server stops seeing new connections: the cap.
    while n < 64 {
        let c = connector.clone();
        let request = callback("demo", &format!("http://127.0.0.1:{port}/k?id={n}"));
        hung.push(tokio::spawn(
            async move { c.verify_webhook(&request).await },
        ));
        n += 1;
        // Wait (bounded) until this fetch either reached the server or was refused.
        let mut waited = 0;
        while count.load(Ordering::SeqCst) < n && !hung.last().unwrap().is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            waited += 1;
            assert!(waited < 2000, "fetch {n} neither connected nor finished");
        }
        if hung.last().unwrap().is_finished() {
            break;
        }
    }
    let refused = hung.pop().unwrap().await.unwrap();
    let fetching = count.load(Ordering::SeqCst);
    assert!(
        (1..=8).contains(&fetching),
        "{fetching} fetches in flight before the cap"
    );
    match refused {
        Err(WebhookError::Unavailable(m)) => assert!(m.contains("too many"), "{m}"),
        other => panic!("over the cap must be Unavailable at once, got {other:?}"),
    }
    // Still refused quickly while the others hang, and no new connection.
    let started = std::time::Instant::now();
    let r = connector
        .verify_webhook(&callback(
            "demo",
            &format!("http://127.0.0.1:{port}/k?id=x"),
        ))
        .await;
    assert!(matches!(r, Err(WebhookError::Unavailable(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(count.load(Ordering::SeqCst), fetching);
    for task in hung {
        task.abort();
    }
}

/// `CompanyId` is a filter, not authentication: a genuinely signed callback
/// for another company is answered with no change hints (200, nothing
/// stored, so ConnectWise neither retries nor disables the callback), while
/// a forged one is refused whatever company it names.
#[tokio::test]
async fn a_callback_for_another_company_is_answered_and_not_stored() {
    let (port, count) = key_server(|| (200, json!({"signing_key": KEY}))).await;
    let connector = connector_for(port);
    let key_url = format!("http://127.0.0.1:{port}/k?id=1");
    let hints = connector
        .verify_webhook(&callback("someone-else", &key_url))
        .await
        .expect("a genuine callback for another company is answered");
    assert!(hints.is_empty(), "nothing to store: {hints:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "its signature was checked");

    // Naming another company does not skip authentication.
    let mut forged = callback("someone-else", &key_url);
    forged.headers.insert(
        "x-content-signature",
        sign(&key_digest("guess"), &forged.body).parse().unwrap(),
    );
    match connector.verify_webhook(&forged).await {
        Err(WebhookError::Unauthorized(m)) => assert!(m.contains("signature"), "{m}"),
        other => panic!("a forged callback must be refused, got {other:?}"),
    }

    // Same body for our company (case-insensitive, as ConnectWise ids are).
    let hints = connector
        .verify_webhook(&callback("DEMO", &key_url))
        .await
        .unwrap();
    assert_eq!(hints.len(), 1);
}

/// A production site does not trust its region's sandbox host for signing
/// keys unless configured to: refused before any fetch.
#[tokio::test]
async fn a_production_site_refuses_sandbox_key_hosts_by_default() {
    let production = ConnectWiseSettings {
        site_url: "https://api-na.myconnectwise.net/".into(),
        ..settings(1)
    };
    let sandbox_key = "https://sandbox-na.myconnectwise.net/v4_6_release/apis/3.0/system/callbackkey/index.rails?id=1";
    let r = common::connector_with(production)
        .verify_webhook(&callback("demo", sandbox_key))
        .await;
    match r {
        Err(WebhookError::Unauthorized(m)) => assert!(m.contains("callback_key_hosts"), "{m}"),
        other => panic!("a sandbox key host must be refused by default, got {other:?}"),
    }
}

/// The key body is read through core's bounded reader with the key's own
/// 64 KiB cap (not the 16 MiB API cap): a larger body is refused, and the
/// caller learns nothing about it.
#[tokio::test]
async fn an_oversized_key_body_is_refused() {
    let (port, count) = key_server(|| (200, json!({"signing_key": "k".repeat(70 * 1024)}))).await;
    let connector = connector_for(port);
    let r = connector
        .verify_webhook(&callback(
            "demo",
            &format!("http://127.0.0.1:{port}/k?id=1"),
        ))
        .await;
    match r {
        Err(WebhookError::Unavailable(m)) => assert!(!m.contains("70"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(count.load(Ordering::SeqCst), 1);
}
