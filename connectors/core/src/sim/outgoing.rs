//! Webhooks a simulator sends, as its vendor would: posted with the
//! vendor's headers, each answer kept (with the request) so tests can tell
//! how the receiver answered every delivery, and tracked so a test can wait
//! until all of them have been answered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::SimControl;

/// One webhook a simulator sent and the status it got (0: no answer).
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
}

/// Webhook deliveries a simulator has started, so a test can wait until
/// every one has been answered (finished ones are forgotten as new ones come).
#[derive(Default)]
pub struct Deliveries(Mutex<Vec<tokio::task::JoinHandle<()>>>);

impl Deliveries {
    /// Tracks a delivery that has been spawned.
    pub fn track(&self, task: tokio::task::JoinHandle<()>) {
        let mut tasks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// Waits for every delivery started so far, and any started meanwhile.
    pub async fn wait_idle(&self) {
        loop {
            let pending = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
            if pending.is_empty() {
                return;
            }
            for task in pending {
                let _ = task.await;
            }
        }
    }
}

/// Posts a webhook body with headers; failures are logged, as a vendor
/// would, and the answer's status (0 when none came) is kept in `control`
/// so tests can tell how the receiver answered every delivery.
pub async fn send_webhook(
    control: Arc<SimControl>,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) {
    send_webhook_status(control, url, headers, body).await;
}

/// [`send_webhook`], returning the status the receiver answered (0: no
/// answer), for simulators that retry failed deliveries as their vendor does.
pub async fn send_webhook_status(
    control: Arc<SimControl>,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> u16 {
    let client = reqwest::Client::new();
    let mut request = client.post(&url).body(body.clone());
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let status = match request.timeout(Duration::from_secs(5)).send().await {
        Ok(r) if r.status().is_success() => r.status().as_u16(),
        Ok(r) => {
            tracing::warn!(%url, status = r.status().as_u16(), "webhook refused");
            r.status().as_u16()
        }
        Err(e) => {
            tracing::warn!(%url, error = %e, "webhook delivery failed");
            0
        }
    };
    control.record_webhook(WebhookDelivery {
        url,
        headers,
        body,
        status,
    });
    status
}
