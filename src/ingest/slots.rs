//! The concurrent-webhook cap (`daemon.max_concurrent_webhooks`): at most
//! that many webhook requests are handled at once. A request over the cap
//! waits for a slot, in arrival order, for up to [`SLOT_WAIT`], and only
//! then gets 429 with `Retry-After`.
//!
//! Waiting instead of refusing at once: vendors redeliver little
//! (ConnectWise retries only 404/409/419/429, twice; Autotask deactivates a
//! webhook that keeps failing), so a burst of genuine changes refused at
//! once reached the bridge only at the next poll. 429, not 503, because it
//! is the answer ConnectWise and Jira retry. A burst's requests now queue for a slot well within the
//! vendors' 5 s delivery timeout. What waits is bounded by the listener's
//! connection cap (`daemon.max_connections`), and a waiting request holds
//! no slot, so slow clients still cannot hold more than the cap.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::sync::Semaphore;

/// How long a request over the cap waits for a slot before it is refused.
pub const SLOT_WAIT: Duration = Duration::from_secs(3);

/// The slots of one webhook router.
#[derive(Clone)]
pub struct Slots {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Slots {
    pub fn new(max_concurrent: usize) -> Self {
        Self::with_wait(max_concurrent, SLOT_WAIT)
    }

    fn with_wait(max_concurrent: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            wait,
        }
    }
}

/// Handles `request` once a slot is free; 429 + `Retry-After: 1` when none
/// frees within the wait.
pub async fn concurrency_cap(State(slots): State<Slots>, request: Request, next: Next) -> Response {
    let permit = match slots.permits.try_acquire() {
        Ok(permit) => Some(permit),
        Err(_) => tokio::time::timeout(slots.wait, slots.permits.acquire())
            .await
            .ok()
            .and_then(Result::ok),
    };
    let Some(_permit) = permit else {
        metrics::counter!("psa_bridge_webhooks_total", "connection" => super::webhook::UNKNOWN_CONNECTION, "outcome" => "busy").increment(1);
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({ "error": "too many webhook requests at once; retry" })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::middleware::from_fn_with_state;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// A router whose handler holds its slot until `release` says so.
    fn router(slots: Slots, release: tokio::sync::watch::Receiver<bool>) -> Router {
        Router::new()
            .route(
                "/",
                post(move || {
                    let mut release = release.clone();
                    async move {
                        let _ = release.wait_for(|go| *go).await;
                        StatusCode::OK
                    }
                }),
            )
            .layer(from_fn_with_state(slots, concurrency_cap))
    }

    fn request() -> Request {
        Request::post("/").body(Body::empty()).unwrap()
    }

    /// A request over the cap waits for the slot to free and is served,
    /// not refused (before: refused at once).
    #[tokio::test]
    async fn a_request_over_the_cap_waits_for_a_slot() {
        let (release, hold) = tokio::sync::watch::channel(false);
        let slots = Slots::new(1);
        let app = router(slots.clone(), hold);
        let first = tokio::spawn(app.clone().oneshot(request()));
        while slots.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let second = tokio::spawn(app.oneshot(request()));
        for _ in 0..64 {
            tokio::task::yield_now().await;
        }
        assert!(
            !second.is_finished(),
            "the second request was answered at once"
        );
        release.send(true).unwrap();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(second.await.unwrap().unwrap().status(), StatusCode::OK);
    }

    /// A slot that stays taken for the whole wait (the first request never
    /// ends): 429 with `Retry-After` once the wait is over.
    #[tokio::test]
    async fn a_request_that_waits_too_long_gets_429() {
        let (_release, hold) = tokio::sync::watch::channel(false);
        let slots = Slots::with_wait(1, Duration::from_millis(50));
        let app = router(slots.clone(), hold);
        let _first = tokio::spawn(app.clone().oneshot(request()));
        while slots.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let started = tokio::time::Instant::now();
        let answer = app.oneshot(request()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.headers()[header::RETRY_AFTER], "1");
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
