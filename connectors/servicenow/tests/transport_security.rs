//! Transport security of both ServiceNow clients: the Table API client and
//! the OAuth token request refuse a loopback HTTPS server with a self-signed
//! certificate (with an error that says so) before any request or credential
//! is sent; plain http is refused off loopback; and neither a paging `Link`
//! header nor a token-endpoint redirect to another origin is followed.

use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::Uri;
use axum::response::IntoResponse;
use chrono::Utc;
use psa_connector::probe::{SelfSignedServer, Trap};
use psa_connector::Connector;
use psa_servicenow::{default_limits, AuthMethod, ServiceNowConnector, ServiceNowSettings};

fn connector(settings: ServiceNowSettings) -> ServiceNowConnector {
    // A long timeout: a slow machine never turns the refusal into a timeout.
    ServiceNowConnector::with_limits(settings, default_limits(), Duration::from_secs(60)).unwrap()
}

#[tokio::test]
async fn the_table_api_client_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let s = ServiceNowSettings::basic(&server.origin, "bridge", "password");
    let err = connector(s).get_ticket("1").await.unwrap_err();
    server.assert_refused(&err);
}

#[tokio::test]
async fn the_oauth_token_request_refuses_a_self_signed_server() {
    let server = SelfSignedServer::start().await;
    let mut s = ServiceNowSettings::basic(&server.origin, "bridge", "password");
    s.auth = AuthMethod::OauthPassword;
    s.client_id = Some("client".into());
    s.client_secret = Some("client-secret".into());
    let err = connector(s).get_ticket("1").await.unwrap_err();
    server.assert_refused(&err);
    assert!(err.to_string().contains("OAuth token request"), "{err}");
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused() {
    let s = ServiceNowSettings::basic("http://acme.service-now.com", "bridge", "password");
    let Err(err) = ServiceNowConnector::with_limits(s, default_limits(), Duration::from_secs(5))
    else {
        panic!("accepted");
    };
    assert!(err.to_string().contains("use https"), "{err}");
}

/// ServiceNow sends `Link: <…>;rel="next"` headers; the connector pages by
/// `sysparm_offset` on the configured instance and never follows them, even
/// when they name another origin.
#[tokio::test]
async fn paging_links_to_another_origin_are_never_followed() {
    let trap = Trap::start().await;
    let link = format!(
        "<{}/api/now/table/incident?sysparm_offset=500>;rel=\"next\"",
        trap.origin
    );
    let lists = Arc::new(AtomicUsize::new(0));
    let counter = lists.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (link, counter) = (link.clone(), counter.clone());
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let first = !uri.query().unwrap_or("").contains("sysparm_offset=4");
            let items: Vec<_> = if first {
                (0..500)
                    .map(|i| serde_json::json!({"sys_id": format!("{i:032x}"), "sys_updated_on": "2026-11-25 10:00:00"}))
                    .collect()
            } else {
                Vec::new()
            };
            (
                [("link", link), ("content-type", "application/json".to_string())],
                serde_json::json!({"result": items}).to_string(),
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let instance = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = ServiceNowSettings::basic(&instance, "bridge", "password");
    let since = Utc::now() - chrono::Duration::days(7);
    let hints = connector(s).changed_since(since).await.unwrap();
    assert_eq!(hints.len(), 500);
    assert_eq!(
        lists.load(Ordering::SeqCst),
        2,
        "both pages from the instance"
    );
    assert_eq!(trap.hits(), 0);
}

/// A token endpoint redirecting elsewhere: the client credentials and
/// password in the form body are not posted there.
#[tokio::test]
async fn an_oauth_token_redirect_to_another_origin_is_not_followed() {
    let trap = Trap::start().await;
    let target = format!("{}/oauth_token.do", trap.origin);
    let app = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [("location", target)],
                "",
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let instance = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut s = ServiceNowSettings::basic(&instance, "bridge", "password");
    s.auth = AuthMethod::OauthPassword;
    s.client_id = Some("client".into());
    s.client_secret = Some("client-secret".into());
    let err = connector(s).get_ticket("1").await.unwrap_err();
    assert!(err.to_string().contains("307"), "{err}");
    assert_eq!(trap.hits(), 0);
}
