//! `Link: next` paging against hostile servers on 127.0.0.1:0: cycles, more
//! pages than the list's count, and `next` after an empty page end with a
//! clear error after a bounded number of requests.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Query;
use axum::routing::get;
use psa_connector::{Connector, ConnectorError};
use psa_connectwise::ConnectWiseSettings;
use serde_json::json;

type Pager = fn(page: usize, port: u16) -> (serde_json::Value, Option<usize>);

/// A site whose board list pages as `pager` says; `count` for `/boards/count`.
async fn hostile(pager: Pager, count: Option<u64>) -> (ConnectWiseSettings, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let mut app = axum::Router::new()
        .route(
            "/login/companyinfo/{c}",
            get(|| async { axum::Json(json!({"Codebase": "v1/"})) }),
        )
        .route(
            "/v1/apis/3.0/service/boards",
            get(move |Query(q): Query<HashMap<String, String>>| {
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                    let (body, next) = pager(page, port);
                    let link = next
                        .map(|n| {
                            format!(
                                "<http://127.0.0.1:{port}/v1/apis/3.0/service/boards?pageSize=1000&page={n}>; rel=\"next\""
                            )
                        })
                        .unwrap_or_default();
                    ([("link", link)], axum::Json(body))
                }
            }),
        );
    if let Some(n) = count {
        app = app.route(
            "/v1/apis/3.0/service/boards/count",
            get(move || async move { axum::Json(json!({"count": n})) }),
        );
    }
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let settings = ConnectWiseSettings {
        site_url: format!("http://127.0.0.1:{port}/"),
        company_id: "demo".into(),
        public_key: "pub".into(),
        private_key: "priv".into(),
        client_id: "5f2d7e3c-8a41-4b6e-9c0d-1e2f3a4b5c6d".into(),
        codebase: None,
        api_version: "2025.8".into(),
        callback_key_hosts: vec![],
    };
    (settings, requests)
}

fn board(page: usize) -> serde_json::Value {
    json!([{"id": page, "name": format!("B{page}")}])
}

async fn discover_error(settings: ConnectWiseSettings) -> String {
    match common::connector_with(settings).discover().await {
        Err(ConnectorError::InvalidResponse(m)) => m,
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn a_paging_cycle_is_detected() {
    // 1 → 2 → 3 → 2 → …
    let (settings, requests) = hostile(
        |page, _| (board(page), Some(if page == 3 { 2 } else { page + 1 })),
        None,
    )
    .await;
    let message = discover_error(settings).await;
    assert!(message.contains("cycle"), "{message}");
    assert_eq!(requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn pages_are_capped_by_the_list_count() {
    // Endless distinct pages, while the list says it holds 1500 items (2 pages).
    let (settings, requests) = hostile(|page, _| (board(page), Some(page + 1)), Some(1500)).await;
    let message = discover_error(settings).await;
    assert!(message.contains("1500"), "{message}");
    assert_eq!(requests.load(Ordering::SeqCst), 3, "2 pages + 1 spare");
}

#[tokio::test]
async fn next_after_an_empty_page_is_an_error() {
    let (settings, requests) = hostile(|page, _| (json!([]), Some(page + 1)), None).await;
    let message = discover_error(settings).await;
    assert!(message.contains("empty page"), "{message}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}
