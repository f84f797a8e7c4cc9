//! Webhooks (registered once with a JQL filter and the secret, signed,
//! retried with a stable identifier, verified over the raw bytes, bad input
//! refused clearly) and Jira's throttling answers.

mod common;

use psa_connector::Connector;
use serde_json::{json, Value};

async fn post(sim: &psa_jira::JiraSim, path: &str, body: Value) -> (u16, Value) {
    let r = common::raw_client(sim)
        .post(format!("{}{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A receiver that fails the first delivery, then accepts: records bodies and headers.
async fn receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(http::HeaderMap, bytes::Bytes)>>>,
) {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(http::HeaderMap, bytes::Bytes)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: http::HeaderMap, body: bytes::Bytes| {
            let log = log.clone();
            async move {
                let mut l = log.lock().unwrap();
                l.push((headers, body));
                if l.len() == 1 {
                    http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn webhooks_are_registered_once_signed_and_retried() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim, "HELP");
    let (url, seen) = receiver().await;
    c.register_webhook(&url).await.unwrap();
    c.register_webhook(&url).await.unwrap();
    let hooks = sim.webhooks();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0].2, "project = HELP");
    assert!(hooks[0].3, "registered with the secret");
    assert!(hooks[0].1.contains(&"comment_created".to_string()));
    let issue = sim
        .user_create_issue("HELP", "Hooked", "", "Medium")
        .unwrap();
    sim.user_create_issue("DEV", "Filtered out", "", "Medium")
        .unwrap();
    sim.wait_webhooks_idle().await;
    let deliveries = seen.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 2, "first refused, then retried");
    let id = |h: &http::HeaderMap| {
        h.get("x-atlassian-webhook-identifier")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        id(&deliveries[0].0),
        id(&deliveries[1].0),
        "identifier stable across retries"
    );
    assert!(deliveries[0].0.get("x-atlassian-webhook-retry").is_none());
    assert_eq!(
        deliveries[1].0.get("x-atlassian-webhook-retry").unwrap(),
        "1"
    );
    let mut hints = Vec::new();
    for (headers, body) in &deliveries {
        let request = psa_connector::WebhookRequest {
            headers: headers.clone(),
            query: None,
            body: body.clone(),
        };
        hints.extend(c.verify_webhook(&request).await.unwrap());
    }
    assert_eq!(hints[0].ticket_id, issue.id);
    assert_eq!(hints[0].dedup_key, hints[1].dedup_key, "a retry dedups");
    // The dynamic webhook API refuses Basic auth, as Jira does.
    let (status, _) = post(&sim, "rest/api/3/webhook", json!({})).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn throttling_carries_jiras_rate_limit_headers_and_is_retried_after_the_wait() {
    let sim = common::start_sim().await;
    sim.control().set_rate_limit(Some(1), 3);
    let client = common::raw_client(&sim);
    let url = format!("{}rest/api/3/priority", sim.base_url());
    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let second = client.get(&url).send().await.unwrap();
    assert_eq!(second.status().as_u16(), 429);
    let h = second.headers();
    assert_eq!(h["retry-after"], "3");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert!(h.contains_key("x-ratelimit-limit") && h.contains_key("x-ratelimit-reset"));
    assert_eq!(h["ratelimit-reason"], "jira-burst-based");
    let body: Value = second.json().await.unwrap();
    assert!(body["errorMessages"].is_array(), "{body}");
    let err = common::connector(&sim, "HELP")
        .discover()
        .await
        .unwrap_err();
    assert_eq!(
        err.retry_action(),
        psa_connector::RetryAction::Retry {
            after: Some(std::time::Duration::from_secs(3))
        }
    );
}

#[tokio::test]
async fn webhooks_with_bad_input_are_refused_clearly() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim, "HELP");
    let sign = |body: &[u8]| psa_jira::webhook::sign(common::SECRET, body);
    let request = |body: &[u8], signature: Option<String>| {
        let mut headers = vec![(
            "x-atlassian-webhook-identifier".to_string(),
            "d-1".to_string(),
        )];
        if let Some(s) = signature {
            headers.push(("x-hub-signature".to_string(), s));
        }
        common::webhook(body.to_vec(), headers)
    };
    // Signed but not JSON: malformed (400), not unauthorized.
    let err = c
        .verify_webhook(&request(b"{not json", Some(sign(b"{not json"))))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 400, "{err}");
    // Wrong scheme, garbage hex, another secret: 401.
    for bad in [
        "sha1=abcd",
        "sha256=zz",
        &psa_jira::webhook::sign("other", b"{}"),
    ] {
        let err = c
            .verify_webhook(&request(b"{}", Some(bad.to_string())))
            .await
            .unwrap_err();
        assert_eq!(err.status_code(), 401, "{bad}: {err}");
    }
    // A signed event without an issue (e.g. a project event) carries no hint.
    let body = br#"{"webhookEvent":"project_created","timestamp":1}"#;
    assert!(c
        .verify_webhook(&request(body, Some(sign(body))))
        .await
        .unwrap()
        .is_empty());
    // Without a configured secret nothing can be verified: refused.
    let mut s = common::settings(&sim, "HELP");
    s.webhook_secret = None;
    let unconfigured = common::connector_with(s);
    let err = unconfigured
        .verify_webhook(&request(body, Some(sign(body))))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 401);
    assert!(unconfigured
        .register_webhook("http://127.0.0.1:9/h")
        .await
        .is_err());
}
