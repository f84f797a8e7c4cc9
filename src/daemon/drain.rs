//! The webhook intake's part in a graceful shutdown. Once the daemon is
//! stopping, the public listener keeps accepting connections but answers every
//! new `POST /webhooks/...` with 503, `Retry-After` and `Connection: close`, so
//! vendors retry later (against the next instance) instead of seeing a refused
//! connection. Requests that arrived before the stop are counted while they
//! run, and the daemon waits for them (within its shutdown bound) so each one
//! finishes its enqueue and flush and gets its 200.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::sync::Notify;

/// Whether the webhook intake is open, and how many requests are in it.
#[derive(Clone, Default)]
pub struct Intake(Arc<Inner>);

#[derive(Default)]
struct Inner {
    draining: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Seconds sent in `Retry-After` while draining.
    retry_after: AtomicUsize,
}

impl Intake {
    /// An open intake; while draining it asks callers to retry after `retry_after_secs`.
    pub fn new(retry_after_secs: u64) -> Self {
        let intake = Self::default();
        let secs = usize::try_from(retry_after_secs.clamp(1, 60)).unwrap_or(60);
        intake.0.retry_after.store(secs, Ordering::SeqCst);
        intake
    }

    /// From now on new webhook requests are answered 503.
    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::SeqCst)
    }

    /// Webhook requests admitted and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::SeqCst)
    }

    /// Resolves once no admitted webhook request is running.
    pub async fn idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Counts a request in; the returned guard counts it out when dropped.
    fn admit(&self) -> Admitted {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        metrics::gauge!("psa_bridge_webhooks_in_flight").increment(1.0);
        Admitted(self.clone())
    }
}

/// One admitted webhook request (also counted out when its task is aborted).
struct Admitted(Intake);

impl Drop for Admitted {
    fn drop(&mut self) {
        metrics::gauge!("psa_bridge_webhooks_in_flight").decrement(1.0);
        if self.0 .0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0 .0.idle.notify_waiters();
        }
    }
}

/// Middleware for the public router: webhook requests pass while the intake
/// is open (and are counted), and get 503 once it drains. Other paths
/// (`/healthz`) pass untouched.
pub async fn gate(State(intake): State<Intake>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/webhooks/") {
        return next.run(request).await;
    }
    if intake.is_draining() {
        metrics::counter!("psa_bridge_webhooks_total", "connection" => "unknown", "outcome" => "stopping").increment(1);
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "the bridge is shutting down; retry later" })),
        )
            .into_response();
        let secs = intake.0.retry_after.load(Ordering::SeqCst);
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    let _admitted = intake.admit();
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::routing::{get, post};

    use super::*;

    const BOUND: Duration = Duration::from_secs(30);

    /// Serves a webhook route that answers once `release` is notified.
    async fn serve(intake: Intake, release: Arc<Notify>) -> std::net::SocketAddr {
        let app = axum::Router::new()
            .route(
                "/webhooks/{c}",
                post(move || async move {
                    release.notified().await;
                    "stored"
                }),
            )
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(intake, gate));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test]
    async fn draining_answers_503_with_retry_after_and_lets_admitted_requests_finish() {
        let intake = Intake::new(7);
        let release = Arc::new(Notify::new());
        let addr = serve(intake.clone(), release.clone()).await;
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/webhooks/x");
        let admitted = tokio::spawn(client.post(&url).send());
        tokio::time::timeout(BOUND, async {
            while intake.in_flight() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the request was never admitted");
        intake.start_draining();
        let refused = client.post(&url).send().await.unwrap();
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.headers()["retry-after"], "7");
        assert_eq!(refused.headers()["connection"], "close");
        let health = client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        // The admitted request still runs, and `idle` waits for it.
        let idle = tokio::spawn({
            let intake = intake.clone();
            async move { intake.idle().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!idle.is_finished(), "idle while a request was in flight");
        release.notify_one();
        let answered = admitted.await.unwrap().unwrap();
        assert_eq!(answered.status(), 200);
        tokio::time::timeout(BOUND, idle)
            .await
            .expect("idle never resolved")
            .unwrap();
        assert_eq!(intake.in_flight(), 0);
    }
}
