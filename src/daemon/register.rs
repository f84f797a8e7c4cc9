//! Webhook registration in the background: each connection's
//! `register_webhook` is called until it succeeds, with a capped, jittered
//! exponential backoff (`backon`), so a vendor hiccup at start-up neither
//! blocks the daemon nor leaves webhooks unregistered. The state is shown per
//! connection in `/healthz`. Only a configuration error (retrying cannot help)
//! stops the retries; polling still covers changes meanwhile.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use psa_connector::{Connector, ConnectorError};

use super::health::{Health, Registration};
use super::supervise::Stop;

/// Delays between registration attempts.
#[derive(Clone, Copy, Debug)]
pub struct RegisterPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RegisterPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(300),
        }
    }
}

/// Registers `url` with `connector` until it succeeds or the daemon stops.
pub async fn register_until_done(
    connector: Arc<dyn Connector>,
    connection: String,
    url: String,
    health: Health,
    policy: RegisterPolicy,
    stop: Stop,
) {
    let mut backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build();
    let mut attempts = 0u32;
    loop {
        attempts = attempts.saturating_add(1);
        let result = tokio::select! {
            result = connector.register_webhook(&url) => result,
            _ = stop.wait() => return,
        };
        let error = match result {
            Ok(()) => {
                tracing::info!(connection = %connection, %url, attempts, "webhook registered");
                health.set_registration(&connection, Registration::Registered { attempts });
                return;
            }
            Err(e) => e,
        };
        let last_error = error.to_string();
        if let ConnectorError::Config(_) = error {
            tracing::error!(connection = %connection, error = %last_error, "cannot register webhook; fix the configuration (polling still covers changes)");
            health.set_registration(
                &connection,
                Registration::Failed {
                    attempts,
                    last_error,
                },
            );
            return;
        }
        let delay = backoff
            .next()
            .unwrap_or(policy.max_delay)
            .min(policy.max_delay);
        tracing::warn!(connection = %connection, error = %last_error, attempts, retry_in_ms = delay.as_millis() as u64, "cannot register webhook yet; retrying (polling still covers changes)");
        health.set_registration(
            &connection,
            Registration::Retrying {
                attempts,
                last_error,
            },
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait() => return,
        }
    }
}
