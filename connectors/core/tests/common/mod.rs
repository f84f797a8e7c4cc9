//! A tiny axum app behind the simulator middleware, and a client for it,
//! shared by the middleware's tests.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use psa_connector::http::{HttpClient, HttpSettings};
use psa_connector::sim::{middleware, SimControl};
use psa_connector::RateLimits;

fn error_body(_status: u16, message: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [message] })
}

fn identify(_: &HeaderMap) -> Option<String> {
    Some("api-user".into())
}

pub struct Server {
    pub base: String,
    pub applied: Arc<AtomicUsize>,
    pub control: Arc<SimControl>,
}

pub async fn server() -> Server {
    let applied = Arc::new(AtomicUsize::new(0));
    let control = SimControl::new(error_body, identify);
    let counter = applied.clone();
    let app = Router::new()
        .route(
            "/items",
            post(move || {
                let counter = counter.clone();
                async move {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    (StatusCode::CREATED, format!("{{\"id\":{n}}}"))
                }
            })
            .get(|| async { "[]" }),
        )
        .route(
            "/refused",
            post(|| async { (StatusCode::BAD_REQUEST, "{\"errors\":[\"no\"]}") }),
        )
        .layer(axum::middleware::from_fn_with_state(
            control.clone(),
            middleware,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        base: format!("http://{addr}/"),
        applied,
        control,
    }
}

pub fn client(base: &str) -> HttpClient {
    client_with_timeout(base, Duration::from_secs(10))
}

/// [`client`] giving up on an answer after `timeout`.
pub fn client_with_timeout(base: &str, timeout: Duration) -> HttpClient {
    HttpClient::new(HttpSettings {
        base_url: base.parse().unwrap(),
        default_headers: HeaderMap::new(),
        limits: RateLimits {
            requests_per_second: 100,
            burst: 100,
            requests_per_hour: None,
            max_concurrent: 4,
        },
        timeout,
        default_retry_after: Duration::from_secs(60),
        error_message: |_, _| "vendor error".into(),
    })
    .unwrap()
}
