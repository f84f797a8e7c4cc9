//! Transport security of the Jira client: a loopback HTTPS server with a
//! self-signed certificate is refused (with an error that says so) before any
//! request or credential is sent; plain http is refused off loopback; and
//! URLs in a search answer (`nextPageToken`, `self`, `nextPage`) pointing to
//! another origin are never requested.

use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::Uri;
use chrono::Utc;
use psa_connector::probe::{SelfSignedServer, Trap};
use psa_connector::Connector;
use psa_jira::{default_limits, JiraConnector, JiraSettings};

#[tokio::test]
async fn the_client_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let s = JiraSettings::new(&server.origin, "bot@example.com", "token", "SUP");
    // A long timeout: a slow machine never turns the refusal into a timeout.
    let connector = JiraConnector::new(s, default_limits(), Duration::from_secs(60)).unwrap();
    let err = connector.get_ticket("SUP-1").await.unwrap_err();
    server.assert_refused(&err);
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused() {
    let s = JiraSettings::new(
        "http://acme.atlassian.net",
        "bot@example.com",
        "token",
        "SUP",
    );
    let Err(err) = JiraConnector::new(s, default_limits(), Duration::from_secs(5)) else {
        panic!("accepted");
    };
    assert!(err.to_string().contains("use https"), "{err}");
}

#[tokio::test]
async fn urls_in_search_pages_pointing_elsewhere_are_never_requested() {
    let trap = Trap::start().await;
    let away = format!("{}/rest/api/3/search/jql?page=2", trap.origin);
    let searches = Arc::new(AtomicUsize::new(0));
    let counter = searches.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (away, counter) = (away.clone(), counter.clone());
        async move {
            if uri.path().ends_with("/myself") {
                return axum::Json(serde_json::json!({"timeZone": "UTC"}));
            }
            let page = counter.fetch_add(1, Ordering::SeqCst);
            let issue = |id: &str| serde_json::json!({"id": id, "self": away, "fields": {"updated": "2026-11-25T10:00:00.000+0000"}});
            axum::Json(if page == 0 {
                serde_json::json!({"issues": [issue("10001")], "nextPageToken": away,
                    "nextPage": away, "self": away, "isLast": false})
            } else {
                serde_json::json!({"issues": [issue("10002")], "self": away, "isLast": true})
            })
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = JiraSettings::new(&site, "bot@example.com", "token", "SUP");
    let connector = JiraConnector::new(s, default_limits(), Duration::from_secs(60)).unwrap();
    let since = Utc::now() - chrono::Duration::days(7);
    let hints = connector.changed_since(since).await.unwrap();
    let ids: Vec<_> = hints.iter().map(|h| h.ticket_id.as_str()).collect();
    assert_eq!(ids, ["10001", "10002"]);
    assert_eq!(
        searches.load(Ordering::SeqCst),
        2,
        "both pages from the site"
    );
    assert_eq!(trap.hits(), 0);
}
