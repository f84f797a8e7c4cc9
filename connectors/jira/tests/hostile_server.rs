//! A server that pages forever or answers garbage: polling stops with a
//! clear error instead of looping or trusting it.

mod common;

use axum::routing::{get, post};
use axum::{Json, Router};
use psa_connector::{Connector, ConnectorError};
use psa_jira::JiraSettings;
use serde_json::{json, Value};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn connector(url: &str) -> psa_jira::JiraConnector {
    common::connector_with(JiraSettings::new(url, "a@b.c", "t", "HELP"))
}

async fn myself() -> Json<Value> {
    Json(json!({"accountId": "x", "timeZone": "Mars/Olympus_Mons"}))
}

fn issue(n: u64) -> Value {
    json!({"id": n.to_string(), "fields": {"updated": "2030-01-01T00:00:00.000+0000"}})
}

#[tokio::test]
async fn a_repeated_page_token_is_a_cycle() {
    let app = Router::new()
        .route("/rest/api/3/myself", get(myself))
        .route(
            "/rest/api/3/search/jql",
            post(|| async {
                Json(json!({"issues": [issue(1)], "nextPageToken": "same", "isLast": false}))
            }),
        );
    let err = connector(&serve(app).await)
        .changed_since(chrono::Utc::now())
        .await
        .unwrap_err();
    let ConnectorError::InvalidResponse(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("cycle"), "{message}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_token_after_an_empty_page_is_refused() {
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let app = Router::new()
        .route("/rest/api/3/myself", get(myself))
        .route(
            "/rest/api/3/search/jql",
            post(move || {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    Json(json!({"issues": [], "nextPageToken": format!("t{n}"), "isLast": false}))
                }
            }),
        );
    let err = connector(&serve(app).await)
        .changed_since(chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("empty page"), "{err}");
}

#[tokio::test]
async fn garbage_answers_are_clear_errors() {
    let app = Router::new()
        .route(
            "/rest/api/3/issue/{key}",
            get(|| async { Json(json!({"id": "1", "fields": {"summary": "no status"}})) }),
        )
        .route("/rest/api/3/field", get(|| async { Json(json!([])) }))
        .route("/rest/api/3/priority", get(|| async { "not json" }));
    let url = serve(app).await;
    let c = connector(&url);
    let err = c.get_ticket("HELP-1").await.unwrap_err();
    assert!(err.to_string().contains("issue without status"), "{err}");
    let err = c.discover().await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
}

/// A site answering every page near 4 MiB with a fresh token (search) or
/// a huge `total` (comments): each listing stops once its pages pass the
/// 128 MiB listing budget (32 pages), with a permanent error, instead of
/// holding up to 1,000 × 16 MiB.
#[tokio::test]
async fn full_size_pages_stop_at_the_listing_budget() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let searches = Arc::new(AtomicUsize::new(0));
    let comment_pages = Arc::new(AtomicUsize::new(0));
    let pad = Arc::new(" ".repeat(4 * 1024 * 1024));
    let (s, p) = (searches.clone(), pad.clone());
    let (c, q) = (comment_pages.clone(), pad.clone());
    let app = Router::new()
        .route("/rest/api/3/myself", get(myself))
        .route(
            "/rest/api/3/project/HELP",
            get(|| async {
                Json(json!({"key": "HELP", "projectTypeKey": "software", "issueTypes": []}))
            }),
        )
        .route(
            "/rest/api/3/search/jql",
            post(move || {
                let n = s.fetch_add(1, Ordering::SeqCst);
                let pad = p.clone();
                async move {
                    let page = json!({"issues": [issue(n as u64)], "nextPageToken": format!("t{n}"), "isLast": false});
                    ([("content-type", "application/json")], format!("{page}{pad}"))
                }
            }),
        )
        .route(
            "/rest/api/3/issue/{id}/comment",
            get(move || {
                c.fetch_add(1, Ordering::SeqCst);
                let pad = q.clone();
                async move {
                    let page = json!({"comments": [{"id": "1", "body": "x"}], "total": 1_000_000});
                    ([("content-type", "application/json")], format!("{page}{pad}"))
                }
            }),
        );
    let c = connector(&serve(app).await);
    let err = c
        .changed_since("2026-11-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("together pass"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(searches.load(Ordering::SeqCst), 32);
    let err = c.list_comments("10001").await.unwrap_err();
    assert!(err.to_string().contains("together pass"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(comment_pages.load(Ordering::SeqCst), 32);
}
