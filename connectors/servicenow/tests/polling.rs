//! Polling through offset pages: every changed record once, across pages,
//! also when a record is updated (and so moves to the end of the order)
//! while the pages are read.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Query;
use psa_connector::Connector;
use psa_servicenow::ServiceNowSettings;
use serde_json::{json, Value};

#[tokio::test]
async fn changed_since_reads_every_page_once() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    let ids: HashSet<String> = (0..1050)
        .map(|n| sim.user_create_incident(&format!("bulk {n}"), "").sys_id)
        .collect();
    let hints = connector.changed_since(before).await.unwrap();
    let seen: HashSet<String> = hints.iter().map(|h| h.ticket_id.clone()).collect();
    assert_eq!(hints.len(), 1050, "each record once");
    assert_eq!(seen, ids);
    let pages: Vec<String> = sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == "/api/now/table/incident")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        pages.len(),
        3,
        "1050 records, 500 a page with a 20-record overlap"
    );
}

/// An instance whose record #5 is updated right after the first page is
/// read: it moves to the end, and everything after it one place forward.
async fn shifting_instance() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let record = |n: usize, stamp: &str| json!({"sys_id": format!("{n:032x}"), "sys_updated_on": stamp, "sys_mod_count": "1"});
    let original: Vec<Value> = (0..1000)
        .map(|n| record(n, "2026-11-01 10:00:00"))
        .collect();
    let mut shifted: Vec<Value> = original.clone();
    shifted.remove(5);
    shifted.push(record(5, "2026-11-01 11:00:00"));
    let app = axum::Router::new().fallback(
        move |Query(q): Query<std::collections::HashMap<String, String>>| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let list = if n == 0 {
                original.clone()
            } else {
                shifted.clone()
            };
            let offset: usize = q["sysparm_offset"].parse().unwrap();
            let limit: usize = q["sysparm_limit"].parse().unwrap();
            let page: Vec<Value> = list.into_iter().skip(offset).take(limit).collect();
            async move {
                (
                    [("x-total-count", "1000")],
                    axum::Json(json!({"result": page})),
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

#[tokio::test]
async fn a_record_updated_while_paging_does_not_hide_its_neighbour() {
    let (url, _calls) = shifting_instance().await;
    let connector = common::connector(ServiceNowSettings::basic(&url, "u", "p"));
    let hints = connector
        .changed_since("2026-11-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    let seen: HashSet<String> = hints.iter().map(|h| h.ticket_id.clone()).collect();
    assert_eq!(seen.len(), 1000, "no record skipped at a page boundary");
    assert_eq!(hints.len(), 1000, "the moved record is reported once");
    let moved = hints
        .iter()
        .find(|h| h.ticket_id == format!("{:032x}", 5))
        .unwrap();
    assert_eq!(
        moved.updated_at,
        Some("2026-11-01T11:00:00Z".parse().unwrap()),
        "with the stamp of its update"
    );
}
