//! Shared test helpers: a simulator on loopback, a connector pointed at it,
//! a clock tests move, and a canned hostile "instance".
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use psa_connector::{RateLimits, WebhookRequest};
use psa_servicenow::{
    default_limits, AuthMethod, Clock, ServiceNowConnector, ServiceNowSettings, ServiceNowSim,
    ServiceNowSimOptions,
};

pub const USER: &str = "bridge.integration";
pub const PASSWORD: &str = "demo-password";
pub const CLIENT_ID: &str = "demo-client";
pub const CLIENT_SECRET: &str = "demo-client-secret";
pub const HOOK_SECRET: &str = "hook-secret-0123";

pub async fn sim() -> ServiceNowSim {
    ServiceNowSim::start_local(ServiceNowSimOptions::default())
        .await
        .unwrap()
}

pub fn settings(sim: &ServiceNowSim) -> ServiceNowSettings {
    let mut s = ServiceNowSettings::basic(&sim.instance_url(), USER, PASSWORD);
    s.webhook_secret = Some(HOOK_SECRET.to_string());
    s
}

pub fn oauth_settings(sim: &ServiceNowSim, method: AuthMethod) -> ServiceNowSettings {
    let mut s = settings(sim);
    s.auth = method;
    s.client_id = Some(CLIENT_ID.into());
    s.client_secret = Some(CLIENT_SECRET.into());
    s
}

pub fn fast_limits() -> RateLimits {
    RateLimits {
        requests_per_second: 200,
        burst: 50,
        ..default_limits()
    }
}

/// A clock tests set and move.
#[derive(Clone)]
pub struct TestClock(pub Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn new() -> Self {
        TestClock(Arc::new(Mutex::new(Utc::now())))
    }
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap();
        *t += chrono::Duration::from_std(by).unwrap();
    }
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Arc::new(move || *inner.lock().unwrap())
    }
}

pub fn connector(settings: ServiceNowSettings) -> ServiceNowConnector {
    ServiceNowConnector::with_limits(settings, fast_limits(), Duration::from_secs(5)).unwrap()
}

pub fn connector_with_clock(
    settings: ServiceNowSettings,
    clock: &TestClock,
) -> ServiceNowConnector {
    ServiceNowConnector::with_clock(
        settings,
        fast_limits(),
        Duration::from_secs(5),
        clock.clock(),
    )
    .unwrap()
}

/// A genuine notice for `sys_id`, signed at `at`.
pub fn notice(
    sim: &ServiceNowSim,
    sys_id: &str,
    secret: &str,
    at: DateTime<Utc>,
) -> WebhookRequest {
    let (headers, body) = sim.signed_notice("incident", sys_id, secret, at).unwrap();
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    WebhookRequest {
        headers: map,
        query: None,
        body: body.into(),
    }
}

/// A hostile or canned instance: answers each request whose path ends with
/// a suffix with that status and body; returns its URL.
pub async fn fake(routes: Vec<(&'static str, u16, Vec<u8>)>) -> String {
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = Arc::new(routes);
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let routes = routes.clone();
        async move {
            for (suffix, status, body) in routes.iter() {
                if uri.path().ends_with(suffix) {
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
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}
