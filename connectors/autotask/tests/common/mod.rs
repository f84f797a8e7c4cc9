//! Shared test helpers: a simulator on loopback, a connector or a raw API
//! client pointed at it, and canned fakes of Autotask.
#![allow(dead_code)]

use std::time::Duration;

use psa_autotask::{
    default_limits, AutotaskConnector, AutotaskSettings, AutotaskSim, AutotaskSimOptions,
};
use psa_connector::RateLimits;

pub const HOOK_SECRET: &str = "hook-secret-0123";

pub async fn sim() -> AutotaskSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    AutotaskSim::start(listener, AutotaskSimOptions::default())
        .await
        .unwrap()
}

pub fn settings(sim: &AutotaskSim) -> AutotaskSettings {
    let mut s = AutotaskSettings::new("bridge@example.com", "demo-secret", "DEMOCODE");
    s.zone_discovery_url = sim.zone_discovery_url();
    s.webhook_secret = Some(HOOK_SECRET.to_string());
    s
}

pub fn fast_limits() -> RateLimits {
    RateLimits {
        requests_per_second: 200,
        burst: 50,
        ..default_limits()
    }
}

pub fn connector(settings: AutotaskSettings) -> AutotaskConnector {
    AutotaskConnector::new(settings, fast_limits(), Duration::from_secs(5)).unwrap()
}

/// A raw API client that sends the sim's API-user credentials.
pub fn api_client() -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("ApiIntegrationCode", "DEMOCODE".parse().unwrap());
    h.insert("UserName", "bridge@example.com".parse().unwrap());
    h.insert("Secret", "demo-secret".parse().unwrap());
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

/// Sends a request and reads its JSON answer.
pub async fn fetch<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

/// A hostile or canned Autotask: answers each request whose lower-cased path
/// ends with a suffix with that status and body; returns the zone REST root.
pub async fn fake(routes: Vec<(&'static str, u16, String)>) -> String {
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = std::sync::Arc::new(routes);
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let routes = routes.clone();
        async move {
            let path = uri.path().to_ascii_lowercase();
            for (suffix, status, body) in routes.iter() {
                if path.ends_with(suffix) {
                    return (
                        StatusCode::from_u16(*status).unwrap(),
                        [("content-type", "application/json")],
                        body.clone(),
                    )
                        .into_response();
                }
            }
            (StatusCode::NOT_FOUND, "no route").into_response()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/ATServicesRest/")
}

/// The simulator's ticket picklists, for fakes that need discovery to work.
pub fn ticket_fields_json() -> String {
    serde_json::json!({"fields": [
        {"name": "status", "isPickList": true, "picklistValues": [
            {"value": "1", "label": "New", "isActive": true, "isDefaultValue": true},
            {"value": "5", "label": "Complete", "isActive": true},
            {"value": "8", "label": "In Progress", "isActive": true}]},
        {"name": "priority", "isPickList": true, "picklistValues": [
            {"value": "1", "label": "High", "isActive": true},
            {"value": "2", "label": "Medium", "isActive": true}]},
        {"name": "queueID", "isPickList": true, "picklistValues": [
            {"value": "29682833", "label": "Level I Support", "isActive": true},
            {"value": "29682969", "label": "Level II Support", "isActive": true}]}
    ]})
    .to_string()
}

pub type Inbox = std::sync::Arc<std::sync::Mutex<Vec<psa_connector::WebhookRequest>>>;

/// A webhook receiver on loopback that keeps every request; returns its URL.
pub async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Inbox::default();
    let sink = inbox.clone();
    let app = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(psa_connector::WebhookRequest {
                    headers,
                    query: None,
                    body,
                });
                "ok"
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/webhooks/autotask-internal"), inbox)
}

/// Settings pointing straight at a zone REST root (a fake).
pub fn settings_for_api(api: &str) -> AutotaskSettings {
    let mut s = AutotaskSettings::new("bridge@example.com", "demo-secret", "DEMOCODE");
    s.api_url = Some(api.to_string());
    s
}
