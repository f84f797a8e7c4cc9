//! `Link: next` paging against hostile servers on 127.0.0.1:0: cycles, far
//! more pages than the list's count, and `next` after an empty page end with
//! a clear error after a bounded number of requests; a list that grows while
//! it is read, or whose `/count` fails, is still read whole.

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

/// What `/boards/count` answers.
#[derive(Clone, Copy)]
enum Count {
    /// No such endpoint (404).
    Missing,
    Items(u64),
    /// This error status.
    Fails(u16),
}

/// A site whose board list pages as `pager` says, counted as `count` says.
async fn hostile(pager: Pager, count: Count) -> (ConnectWiseSettings, Arc<AtomicUsize>) {
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
    // Every board has no statuses and the tenant no priorities, so a whole
    // board list makes `discover` succeed.
    app = app
        .route(
            "/v1/apis/3.0/service/boards/{id}/statuses",
            get(|| async { axum::Json(json!([])) }),
        )
        .route(
            "/v1/apis/3.0/service/priorities",
            get(|| async { axum::Json(json!([])) }),
        );
    match count {
        Count::Missing => {}
        Count::Items(n) => {
            app = app.route(
                "/v1/apis/3.0/service/boards/count",
                get(move || async move { axum::Json(json!({"count": n})) }),
            );
        }
        Count::Fails(status) => {
            app = app.route(
                "/v1/apis/3.0/service/boards/count",
                get(move || async move {
                    (
                        http::StatusCode::from_u16(status).unwrap(),
                        axum::Json(json!({"code": "Error", "message": "count failed"})),
                    )
                }),
            );
        }
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
        Count::Missing,
    )
    .await;
    let message = discover_error(settings).await;
    assert!(message.contains("cycle"), "{message}");
    assert_eq!(requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn pages_are_capped_by_the_list_count() {
    // Endless distinct pages, while the list says it holds 1500 items (2 pages).
    let (settings, requests) =
        hostile(|page, _| (board(page), Some(page + 1)), Count::Items(1500)).await;
    let message = discover_error(settings).await;
    assert!(message.contains("1500"), "{message}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2 * 2 + 10,
        "twice the counted pages + 10 spare"
    );
}

#[tokio::test]
async fn a_list_that_grows_while_it_is_read_is_read_whole() {
    // Counted at 1500 items (2 pages), but records arrive while paging: 6 pages.
    let (settings, requests) = hostile(
        |page, _| (board(page), (page < 6).then_some(page + 1)),
        Count::Items(1500),
    )
    .await;
    let catalog = common::connector_with(settings).discover().await.unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 6);
    assert_eq!(catalog.queues.len(), 6, "{:?}", catalog.queues);
}

#[tokio::test]
async fn a_failed_count_is_no_count() {
    for status in [500, 403, 400] {
        let (settings, requests) = hostile(
            |page, _| (board(page), (page < 3).then_some(page + 1)),
            Count::Fails(status),
        )
        .await;
        let connector = common::connector_with(settings);
        let catalog = connector.discover().await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 3, "HTTP {status}");
        assert_eq!(catalog.queues.len(), 3, "{:?}", catalog.queues);
    }
    // Without a count, a hostile server is still stopped by the cycle check.
    let (settings, _) = hostile(
        |page, _| (board(page), Some(if page == 3 { 1 } else { page + 1 })),
        Count::Fails(500),
    )
    .await;
    assert!(discover_error(settings).await.contains("cycle"));
}

#[tokio::test]
async fn next_after_an_empty_page_is_an_error() {
    let (settings, requests) = hostile(|page, _| (json!([]), Some(page + 1)), Count::Missing).await;
    let message = discover_error(settings).await;
    assert!(message.contains("empty page"), "{message}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

/// Every page near the response size cap (a 4 MiB board name), 40 pages
/// with fresh `next` links and no count. Before the listing budget the walk
/// read all 160 MiB (and up to 1,000 such pages from an endless chain); now
/// it stops once the pages together pass 128 MiB.
#[tokio::test]
async fn full_size_pages_stop_at_the_listing_budget() {
    fn fat(page: usize, _port: u16) -> (serde_json::Value, Option<usize>) {
        let name = "x".repeat(4 * 1024 * 1024);
        (
            json!([{"id": page, "name": name}]),
            (page < 40).then_some(page + 1),
        )
    }
    let (settings, requests) = hostile(fat, Count::Missing).await;
    let err = discover_error(settings).await;
    assert!(err.contains("together pass"), "{err}");
    assert_eq!(requests.load(Ordering::SeqCst), 32);
}
