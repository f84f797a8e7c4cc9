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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    use async_trait::async_trait;
    use psa_connector::{
        Catalog, ChangeHint, Comment, NewComment, NewTicket, Ticket, TicketUpdate, Timestamp,
        WebhookError, WebhookRequest,
    };
    use tokio::sync::watch;

    use super::*;

    /// Answers `register_webhook` from a script, then Ok; nothing else is called.
    struct Scripted {
        script: Mutex<Vec<ConnectorError>>,
        calls: AtomicU32,
    }

    impl Scripted {
        fn new(mut errors: Vec<ConnectorError>) -> Arc<Self> {
            errors.reverse();
            Arc::new(Self {
                script: Mutex::new(errors),
                calls: AtomicU32::new(0),
            })
        }
    }

    fn unused<T>() -> Result<T, ConnectorError> {
        Err(ConnectorError::Config("not used in this test".into()))
    }

    #[async_trait]
    impl Connector for Scripted {
        fn vendor(&self) -> &'static str {
            "scripted"
        }
        async fn discover(&self) -> Result<Catalog, ConnectorError> {
            unused()
        }
        async fn get_ticket(&self, _: &str) -> Result<Ticket, ConnectorError> {
            unused()
        }
        async fn find_by_marker(&self, _: &str) -> Result<Option<Ticket>, ConnectorError> {
            unused()
        }
        async fn create_ticket(&self, _: &NewTicket) -> Result<Ticket, ConnectorError> {
            unused()
        }
        async fn update_ticket(&self, _: &str, _: &TicketUpdate) -> Result<(), ConnectorError> {
            unused()
        }
        async fn list_comments(&self, _: &str) -> Result<Vec<Comment>, ConnectorError> {
            unused()
        }
        async fn add_comment(&self, _: &str, _: &NewComment) -> Result<String, ConnectorError> {
            unused()
        }
        async fn changed_since(&self, _: Timestamp) -> Result<Vec<ChangeHint>, ConnectorError> {
            unused()
        }
        async fn verify_webhook(
            &self,
            _: &WebhookRequest,
        ) -> Result<Vec<ChangeHint>, WebhookError> {
            Ok(Vec::new())
        }
        async fn register_webhook(&self, _: &str) -> Result<(), ConnectorError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.script.lock().unwrap().pop() {
                Some(error) => Err(error),
                None => Ok(()),
            }
        }
    }

    fn http(status: u16) -> ConnectorError {
        ConnectorError::Http {
            status,
            message: format!("status {status}"),
            retry_after: None,
        }
    }

    const FAST: RegisterPolicy = RegisterPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
    };

    async fn run(connector: Arc<Scripted>, health: &Health) {
        let (_tx, rx) = watch::channel(false);
        tokio::time::timeout(
            Duration::from_secs(30),
            register_until_done(
                connector,
                "c".into(),
                "http://bridge/webhooks/c".into(),
                health.clone(),
                FAST,
                Stop::new(rx),
            ),
        )
        .await
        .expect("registration ends");
    }

    #[tokio::test]
    async fn retries_vendor_errors_until_registered() {
        let connector = Scripted::new(vec![http(503), http(503), http(403), http(500)]);
        let health = Health::default();
        run(connector.clone(), &health).await;
        assert_eq!(connector.calls.load(Ordering::SeqCst), 5);
        assert_eq!(
            health.registration("c"),
            Some(Registration::Registered { attempts: 5 })
        );
    }

    #[tokio::test]
    async fn a_configuration_error_is_not_retried() {
        let connector = Scripted::new(vec![ConnectorError::Config("no webhook_secret".into())]);
        let health = Health::default();
        run(connector.clone(), &health).await;
        assert_eq!(connector.calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            health.registration("c"),
            Some(Registration::Failed {
                attempts: 1,
                last_error: "configuration: no webhook_secret".into()
            })
        );
    }

    #[tokio::test]
    async fn stop_ends_the_retries() {
        let connector = Scripted::new((0..1000).map(|_| http(503)).collect());
        let health = Health::default();
        let (tx, rx) = watch::channel(false);
        let slow = RegisterPolicy {
            min_delay: Duration::from_secs(3600),
            max_delay: Duration::from_secs(3600),
        };
        let task = tokio::spawn(register_until_done(
            connector.clone(),
            "c".into(),
            "u".into(),
            health.clone(),
            slow,
            Stop::new(rx),
        ));
        tokio::time::timeout(Duration::from_secs(30), async {
            while health.registration("c").is_none() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        assert!(matches!(
            health.registration("c"),
            Some(Registration::Retrying { attempts: 1, .. })
        ));
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("stops during the hour-long backoff")
            .unwrap();
        assert_eq!(connector.calls.load(Ordering::SeqCst), 1);
    }
}
