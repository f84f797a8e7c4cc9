//! Malformed, hostile or oversized answers give clear errors (never a
//! panic, never an endless loop), and statuses are classified: 429/500/502/503
//! retry, 403 and 400 are permanent with the vendor's message, 404 NotFound.

mod common;

use psa_connector::{Connector, ConnectorError, RetryAction};
use psa_servicenow::ServiceNowSettings;

const ID: &str = "0123456789abcdef0123456789abcdef";

async fn connector_for(
    routes: Vec<(&'static str, u16, Vec<u8>)>,
) -> psa_servicenow::ServiceNowConnector {
    let url = common::fake(routes).await;
    common::connector(ServiceNowSettings::basic(&url, "u", "p"))
}

fn path() -> &'static str {
    "/api/now/table/incident/0123456789abcdef0123456789abcdef"
}

#[tokio::test]
async fn unreadable_answers_are_clear_errors() {
    let c = connector_for(vec![(path(), 200, b"{not json".to_vec())]).await;
    let err = c.get_ticket(ID).await.unwrap_err();
    assert!(matches!(err, ConnectorError::InvalidResponse(_)), "{err:?}");

    let c = connector_for(vec![(path(), 200, br#"{"records":[]}"#.to_vec())]).await;
    let err = c.get_ticket(ID).await.unwrap_err();
    assert!(err.to_string().contains("no \"result\""), "{err}");

    let c = connector_for(vec![(
        path(),
        200,
        br#"{"result":{"sys_id":"abc","sys_updated_on":"yesterday"}}"#.to_vec(),
    )])
    .await;
    let err = c.get_ticket(ID).await.unwrap_err();
    assert!(err.to_string().contains("sys_updated_on"), "{err}");

    let c = connector_for(vec![(path(), 200, br#"{"result":"surprise"}"#.to_vec())]).await;
    assert!(matches!(
        c.get_ticket(ID).await,
        Err(ConnectorError::InvalidResponse(_))
    ));

    let mut huge = br#"{"result":{"description":""#.to_vec();
    huge.resize(psa_connector::http::MAX_RESPONSE_BYTES + 10, b'x');
    let c = connector_for(vec![(path(), 200, huge)]).await;
    let err = c.get_ticket(ID).await.unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");

    // Ids that are not sys_ids never reach a URL or a query.
    let c = connector_for(vec![]).await;
    assert!(matches!(
        c.get_ticket("../sys_user").await,
        Err(ConnectorError::NotFound(_))
    ));
    assert!(matches!(
        c.list_comments("x^ORelement=y").await,
        Err(ConnectorError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_list_that_ignores_the_offset_is_refused_not_looped() {
    let rows: Vec<String> = (0..500)
        .map(|n| format!(r#"{{"sys_id":"{n:032x}","sys_updated_on":"2026-11-01 10:00:00","sys_mod_count":"1"}}"#))
        .collect();
    let body = format!(r#"{{"result":[{}]}}"#, rows.join(","));
    let c = connector_for(vec![("/api/now/table/incident", 200, body.into_bytes())]).await;
    let err = c
        .changed_since("2026-11-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("repeats records"), "{err}");
}

#[tokio::test]
async fn statuses_are_classified() {
    let error = |m: &str| {
        format!(r#"{{"error":{{"message":"{m}","detail":"details here"}},"status":"failure"}}"#)
            .into_bytes()
    };
    for (status, retry) in [
        (429u16, true),
        (500, true),
        (502, true),
        (503, true),
        (400, false),
        (403, false),
        (401, false),
    ] {
        let c = connector_for(vec![(path(), status, error("Boom"))]).await;
        let err = c.get_ticket(ID).await.unwrap_err();
        assert_eq!(err.is_retryable(), retry, "{status}: {err:?}");
        assert!(err.to_string().contains("Boom"), "{status}: {err}");
    }
    let c = connector_for(vec![(path(), 429, error("Rate limit exceeded"))]).await;
    let err = c.get_ticket(ID).await.unwrap_err();
    assert!(matches!(
        err.retry_action(),
        RetryAction::Retry { after: Some(_) }
    ));
    let c = connector_for(vec![(path(), 404, error("No Record found"))]).await;
    assert!(matches!(
        c.get_ticket(ID).await,
        Err(ConnectorError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_simulator_rate_limit_rule_is_retryable_with_its_wait() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    let inc = sim.user_create_incident("limited", "");
    sim.set_rate_limit_rule(Some((1, std::time::Duration::from_secs(3600))));
    c.get_ticket(&inc.sys_id).await.unwrap();
    let err = c.get_ticket(&inc.sys_id).await.unwrap_err();
    match err.retry_action() {
        RetryAction::Retry { after: Some(wait) } => assert!(wait.as_secs() > 3000, "{wait:?}"),
        other => panic!("{other:?} for {err:?}"),
    }
}

/// An instance whose every page holds 500 new records padded to 4 MiB,
/// for 40 pages, with no `X-Total-Count`. Before the listing budget the
/// walk read all 160 MiB (and up to 2,000 such pages); now it stops once
/// the pages together pass 128 MiB.
#[tokio::test]
async fn full_size_pages_stop_at_the_listing_budget() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let pages = Arc::new(AtomicUsize::new(0));
    let counter = pages.clone();
    let pad = " ".repeat(4 * 1024 * 1024);
    let app = axum::Router::new().fallback(
        move |axum::extract::Query(q): axum::extract::Query<
            std::collections::HashMap<String, String>,
        >| {
            let (counter, pad) = (counter.clone(), pad.clone());
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let offset: usize = q
                    .get("sysparm_offset")
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(0);
                let count = if n < 40 { 500 } else { 0 };
                let rows: Vec<String> = (0..count)
                    .map(|i| {
                        format!(
                            r#"{{"sys_id":"{:032x}","sys_updated_on":"2026-11-01 10:00:00"}}"#,
                            offset + i
                        )
                    })
                    .collect();
                let body = format!(r#"{{"result":[{}]}}{pad}"#, rows.join(","));
                ([("content-type", "application/json")], body)
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let c = common::connector(ServiceNowSettings::basic(&url, "u", "p"));
    let err = c
        .changed_since("2026-11-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("together pass"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(pages.load(Ordering::SeqCst), 32);
}
