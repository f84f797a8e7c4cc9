//! Shared test helpers: start the simulator and a connector pointed at it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use psa_connector::WebhookRequest;
use psa_connectwise::{
    default_limits, ConnectWiseConnector, ConnectWiseSettings, ConnectWiseSim,
    ConnectWiseSimOptions,
};

pub async fn start_sim() -> Arc<ConnectWiseSim> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Arc::new(
        ConnectWiseSim::start(listener, ConnectWiseSimOptions::default())
            .await
            .unwrap(),
    )
}

pub fn settings(sim: &ConnectWiseSim) -> ConnectWiseSettings {
    let o = sim.options();
    ConnectWiseSettings {
        site_url: sim.site_url(),
        company_id: o.company_id.clone(),
        public_key: o.public_key.clone(),
        private_key: o.private_key.clone(),
        client_id: o.client_id.clone(),
        codebase: None,
        api_version: "2025.8".into(),
        callback_key_hosts: vec![format!("127.0.0.1:{}", sim.addr().port())],
    }
}

pub fn connector_with(settings: ConnectWiseSettings) -> ConnectWiseConnector {
    let mut limits = default_limits();
    limits.requests_per_second = 1000;
    limits.burst = 1000;
    ConnectWiseConnector::new(settings, limits, Duration::from_secs(10)).unwrap()
}

pub fn connector(sim: &ConnectWiseSim) -> ConnectWiseConnector {
    connector_with(settings(sim))
}

pub fn webhook(body: Vec<u8>, signature: Option<&str>, id: i64) -> WebhookRequest {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    if let Some(sig) = signature {
        headers.insert("x-content-signature", sig.parse().unwrap());
    }
    WebhookRequest {
        headers,
        query: Some(format!("id={id}")),
        body: body.into(),
    }
}

/// A raw API client with the sim's credentials.
pub fn raw_client(sim: &ConnectWiseSim) -> reqwest::Client {
    use base64::Engine;
    let o = sim.options();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}+{}:{}",
        o.company_id, o.public_key, o.private_key
    ));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Basic {basic}").parse().unwrap());
    headers.insert("clientid", o.client_id.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Sends a request and reads its JSON answer.
pub async fn fetch<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

pub fn api(sim: &ConnectWiseSim, path: &str) -> String {
    format!(
        "{}{}apis/3.0/{}",
        sim.site_url(),
        sim.options().codebase,
        path.trim_start_matches('/')
    )
}
