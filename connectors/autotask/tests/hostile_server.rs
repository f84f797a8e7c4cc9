//! A hostile "Autotask": `nextPageUrl` chains that loop or never end, and a
//! zone discovery answer that never stops. Each must end in a clear error
//! after a bounded number of requests.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use psa_autotask::AutotaskSettings;
use psa_connector::{Connector, ConnectorError};
use serde_json::json;

/// How a page names the next one.
#[derive(Clone, Copy)]
enum Chain {
    /// `/Tickets/query` → `?paging=b` → back to `/Tickets/query`.
    Cycle,
    /// `?paging=N` → `?paging=N+1`, for ever (the count says 3).
    Endless,
    /// `?paging=N` → `?paging=N+1` until page `pages`, which is the last.
    Ends { pages: usize },
}

/// How the fake answers `…/query/count`.
#[derive(Clone, Copy)]
enum Count {
    /// `{"queryCount": n}`.
    Says(u64),
    /// An error answer with this status.
    Fails(u16),
}

struct Fake {
    origin: String,
    pages: Arc<AtomicUsize>,
}

async fn hostile(chain: Chain) -> Fake {
    hostile_counted(chain, Count::Says(3)).await
}

async fn hostile_counted(chain: Chain, count: Count) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let pages = Arc::new(AtomicUsize::new(0));
    let (base, counter) = (origin.clone(), pages.clone());
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (base, counter) = (base.clone(), counter.clone());
        async move {
            let path = uri.path().to_ascii_lowercase();
            if path.ends_with("/thresholdinformation") {
                // The budget read is not a page.
                return axum::http::StatusCode::NOT_FOUND.into_response();
            }
            if path.ends_with("/query/count") {
                return match count {
                    Count::Says(n) => axum::Json(json!({"queryCount": n})).into_response(),
                    Count::Fails(status) => (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        axum::Json(json!({"errors": ["An error has occurred."]})),
                    )
                        .into_response(),
                };
            }
            let page_of = |n: usize| {
                json!({"id": n, "lastTrackedModificationDateTime": "2026-11-25T10:00:00Z"})
            };
            let query = uri.query().unwrap_or("");
            let n: usize = query
                .strip_prefix("paging=")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            counter.fetch_add(1, Ordering::SeqCst);
            let next = match chain {
                Chain::Cycle if query.is_empty() => format!("{base}{}?paging=1", uri.path()),
                Chain::Cycle => format!("{base}{}", uri.path()),
                Chain::Endless => format!("{base}{}?paging={}", uri.path(), n + 1),
                Chain::Ends { pages } if n + 1 >= pages => String::new(),
                Chain::Ends { .. } => format!("{base}{}?paging={}", uri.path(), n + 1),
            };
            axum::Json(json!({
                "items": [page_of(n + 1)],
                "pageDetails": {"count": 1, "requestCount": 500, "nextPageUrl": (!next.is_empty()).then_some(next), "prevPageUrl": null},
            }))
            .into_response()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { origin, pages }
}

fn connector_for(fake: &Fake) -> psa_autotask::AutotaskConnector {
    let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
    s.api_url = Some(format!("{}/ATServicesRest/", fake.origin));
    common::connector(s)
}

#[tokio::test]
async fn a_paging_cycle_is_refused_at_once() {
    let fake = hostile(Chain::Cycle).await;
    let err = connector_for(&fake)
        .changed_since(Utc::now())
        .await
        .unwrap_err();
    match &err {
        ConnectorError::InvalidResponse(m) => {
            assert!(m.contains("page already read"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fake.pages.load(Ordering::SeqCst),
        2,
        "A, B, then the loop back to A is seen"
    );
}

#[tokio::test]
async fn an_endless_query_stops_at_its_count() {
    let fake = hostile(Chain::Endless).await;
    let err = connector_for(&fake)
        .changed_since(Utc::now())
        .await
        .unwrap_err();
    match &err {
        ConnectorError::InvalidResponse(m) => assert!(m.contains("counts 3 records"), "{m}"),
        other => panic!("{other:?}"),
    }
    let pages = fake.pages.load(Ordering::SeqCst);
    assert_eq!(
        pages, 16,
        "twice the 3 pages counted, plus 10 pages of slack"
    );
}

/// A busy tenant: the count said 3 records, but 9 pages arrive because
/// records were added while the listing ran. The poll still succeeds.
#[tokio::test]
async fn records_added_while_paging_do_not_fail_the_poll() {
    let fake = hostile_counted(Chain::Ends { pages: 9 }, Count::Says(3)).await;
    let hints = connector_for(&fake)
        .changed_since(Utc::now())
        .await
        .unwrap();
    assert_eq!(hints.len(), 9);
}

/// A failed `…/query/count` is no count: the listing goes on (the hard cap
/// and the cycle check still bound it).
#[tokio::test]
async fn a_failed_count_does_not_fail_the_listing() {
    for status in [500, 503, 404] {
        let fake = hostile_counted(Chain::Ends { pages: 4 }, Count::Fails(status)).await;
        let hints = connector_for(&fake)
            .changed_since(Utc::now())
            .await
            .unwrap();
        assert_eq!(hints.len(), 4, "count answered {status}");
    }
    // A cycle is still refused without a count.
    let fake = hostile_counted(Chain::Cycle, Count::Fails(500)).await;
    let err = connector_for(&fake)
        .changed_since(Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::InvalidResponse(m) if m.contains("page already read")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_endless_collection_stops_at_the_hard_cap() {
    let fake = hostile(Chain::Endless).await;
    let c = connector_for(&fake);
    let err = c.list_comments("7").await.unwrap_err();
    match &err {
        ConnectorError::InvalidResponse(m) => assert!(m.contains("at most 200 pages"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.pages.load(Ordering::SeqCst), 200);
}

/// A discovery endpoint answering `body` (a fixed text or an endless stream).
async fn zone_fake(body: impl Fn() -> Body + Clone + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            Response::builder()
                .header("content-type", "application/json")
                .body(body())
                .unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("{origin}/atservicesrest/")
}

async fn discover_with(discovery: String) -> ConnectorError {
    let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
    s.zone_discovery_url = discovery;
    common::connector(s).discover().await.unwrap_err()
}

#[tokio::test]
async fn zone_discovery_reads_a_bounded_answer() {
    // A parseable but huge answer: refused, not read whole.
    let huge = json!({"url": "http://127.0.0.1:9/ATServicesRest/", "pad": "x".repeat(1 << 20)})
        .to_string();
    let err = discover_with(zone_fake(move || Body::from(huge.clone())).await).await;
    match &err {
        ConnectorError::InvalidResponse(m) => assert!(m.contains("larger than"), "{m}"),
        other => panic!("{other:?}"),
    }
    // An answer that never ends: refused once the cap is reached, well before the timeout.
    let endless = || {
        let chunk = bytes::Bytes::from(vec![b' '; 4096]);
        Body::from_stream(futures::stream::repeat_with(move || {
            Ok::<_, std::io::Error>(chunk.clone())
        }))
    };
    let err = discover_with(zone_fake(endless).await).await;
    match &err {
        ConnectorError::InvalidResponse(m) => assert!(m.contains("larger than"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// A zone whose every page is near the response size cap (padded with
/// whitespace after the JSON) with a fresh `nextPageUrl` and no count:
/// 40 pages of 4 MiB. Before the listing budget the walk read all 160 MiB
/// (and would read 2,000 such pages, 8 GiB, from a chain that never ends);
/// now it stops once the pages together pass 128 MiB.
#[tokio::test]
async fn full_size_pages_stop_at_the_listing_budget() {
    const PAD: usize = 4 * 1024 * 1024;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let pages = Arc::new(AtomicUsize::new(0));
    let (base, counter) = (origin.clone(), pages.clone());
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (base, counter) = (base.clone(), counter.clone());
        async move {
            if uri
                .path()
                .to_ascii_lowercase()
                .ends_with("/thresholdinformation")
            {
                return axum::http::StatusCode::NOT_FOUND.into_response();
            }
            if uri.path().to_ascii_lowercase().ends_with("/query/count") {
                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
            }
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let next = (n < 40).then(|| format!("{base}{}?paging={n}", uri.path()));
            let mut body = json!({
                "items": [{"id": n, "lastTrackedModificationDateTime": "2026-11-25T10:00:00Z"}],
                "pageDetails": {"nextPageUrl": next},
            })
            .to_string();
            body.push_str(&" ".repeat(PAD));
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let fake = Fake { origin, pages };
    let err = connector_for(&fake)
        .changed_since(Utc::now())
        .await
        .unwrap_err();
    match &err {
        ConnectorError::InvalidResponse(m) => assert!(m.contains("together pass"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(
        fake.pages.load(Ordering::SeqCst),
        32,
        "32 pages of 4 MiB and a bit pass 128 MiB"
    );
}
