//! The simulator delivers callbacks as ConnectWise does: an answer of
//! 404/409/419/429 is retried twice (after 2 s and 4 s), any other answer
//! ends the delivery (docs/vendors/connectwise.md, "Delivery").

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::post;
use psa_connector::Connector;

/// A receiver answering `answers` in turn, then 200; returns its URL.
async fn receiver(answers: Vec<u16>) -> String {
    let seen = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/webhooks/connectwise",
        post(move || {
            let seen = seen.clone();
            let answers = answers.clone();
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let code = answers.get(n).copied().unwrap_or(200);
                StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/webhooks/connectwise")
}

/// The answers a callback to a receiver answering `answers` (then 200)
/// got, one ticket created by a person.
async fn delivered(answers: Vec<u16>) -> Vec<u16> {
    let sim = common::start_sim().await;
    let c = common::connector(&sim);
    c.register_webhook(&receiver(answers).await).await.unwrap();
    sim.user_create_ticket(
        "Printer",
        "Co-Managed",
        "ACME",
        "Priority 3 - Normal Response",
    );
    sim.wait_callbacks_idle().await;
    sim.control()
        .webhook_deliveries()
        .iter()
        .map(|d| d.status)
        .collect()
}

#[tokio::test]
async fn busy_answers_are_retried_twice_and_others_are_not() {
    // 429 twice: the third try gets through.
    assert_eq!(delivered(vec![429, 429]).await, vec![429, 429, 200]);
    // Three refusals: two retries, then ConnectWise gives up.
    assert_eq!(
        delivered(vec![404, 409, 419, 429]).await,
        vec![404, 409, 419]
    );
    // A 503 (or 500) is not an answer ConnectWise retries.
    assert_eq!(delivered(vec![503]).await, vec![503]);
}
