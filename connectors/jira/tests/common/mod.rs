//! Shared test helpers: start the simulator and a connector pointed at it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use psa_connector::WebhookRequest;
use psa_jira::{default_limits, JiraConnector, JiraSettings, JiraSim, JiraSimOptions};

pub const SECRET: &str = "It's a Secret to Everybody";

pub async fn start_sim() -> Arc<JiraSim> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Arc::new(
        JiraSim::start(listener, JiraSimOptions::default())
            .await
            .unwrap(),
    )
}

pub fn settings(sim: &JiraSim, project: &str) -> JiraSettings {
    let o = sim.options();
    let mut s = JiraSettings::new(&sim.base_url(), &o.email, &o.api_token, project);
    s.webhook_secret = Some(SECRET.into());
    s
}

pub fn connector_with(settings: JiraSettings) -> JiraConnector {
    let mut limits = default_limits();
    limits.requests_per_second = 1000;
    limits.burst = 1000;
    JiraConnector::new(settings, limits, Duration::from_secs(10)).unwrap()
}

pub fn connector(sim: &JiraSim, project: &str) -> JiraConnector {
    connector_with(settings(sim, project))
}

pub fn webhook(body: Vec<u8>, headers: Vec<(String, String)>) -> WebhookRequest {
    let mut map = http::HeaderMap::new();
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

/// A raw API client with the sim's credentials.
pub fn raw_client(sim: &JiraSim) -> reqwest::Client {
    use base64::Engine;
    let o = sim.options();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", o.email, o.api_token));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Basic {basic}").parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}
