//! Webhook registration in the background: each connection's
//! `register_webhook` is called until it succeeds, with a capped, jittered
//! exponential backoff ([`crate::retry::delays`]), so a vendor hiccup at
//! start-up neither blocks the daemon nor leaves webhooks unregistered. The
//! state is shown per connection in `/healthz`.
//!
//! - A transient failure (5xx, 408, 429, transport) is retried on the
//!   backoff, never sooner than the vendor's `Retry-After` (capped at
//!   [`MAX_REGISTER_RETRY_AFTER`]).
//! - A permanent vendor refusal (another 4xx) shows `failed` with the reason
//!   and is retried slowly, at the longest delay: the fix (a permission, a
//!   licence) usually happens on the vendor side, without a restart here.
//! - A configuration error of our own (retrying cannot help) shows `failed`
//!   and stops the retries. Polling still covers changes meanwhile.

use std::sync::Arc;
use std::time::Duration;

use backon::ExponentialBackoff;
use psa_connector::{Connector, ConnectorError, RetryAction};

use super::health::{Health, Registration};
use super::supervise::Stop;

/// Longest vendor `Retry-After` waited for between registration attempts.
pub const MAX_REGISTER_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Delays between registration attempts.
#[derive(Clone, Copy, Debug)]
pub struct RegisterPolicy {
    pub min_delay: Duration,
    /// Also the pause after a permanent refusal.
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

/// The pause after `error`, and whether the vendor refused for good.
fn pause_after(
    error: &ConnectorError,
    backoff: &mut ExponentialBackoff,
    policy: &RegisterPolicy,
) -> (Duration, bool) {
    match error.retry_action() {
        RetryAction::Retry { after } => {
            let delay = backoff
                .next()
                .unwrap_or(policy.max_delay)
                .min(policy.max_delay);
            let vendor = after.map(|a| a.min(MAX_REGISTER_RETRY_AFTER));
            (vendor.map_or(delay, |a| a.max(delay)), false)
        }
        RetryAction::DontRetry => (policy.max_delay, true),
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
    let mut backoff = crate::retry::delays(policy.min_delay, policy.max_delay);
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
        let (delay, refused) = pause_after(&error, &mut backoff, &policy);
        let retry_in_ms = delay.as_millis() as u64;
        let state = if refused {
            tracing::error!(connection = %connection, error = %last_error, attempts, retry_in_ms, "the vendor refused the webhook registration; retrying slowly (polling still covers changes)");
            Registration::Failed {
                attempts,
                last_error,
            }
        } else {
            tracing::warn!(connection = %connection, error = %last_error, attempts, retry_in_ms, "cannot register webhook yet; retrying (polling still covers changes)");
            Registration::Retrying {
                attempts,
                last_error,
            }
        };
        health.set_registration(&connection, state);
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
        // (403 pauses for the longest delay: 4 ms here.)
        let health = Health::default();
        run(connector.clone(), &health).await;
        assert_eq!(connector.calls.load(Ordering::SeqCst), 5);
        assert_eq!(
            health.registration("c"),
            Some(Registration::Registered { attempts: 5 })
        );
    }

    fn http_after(status: u16, after: Duration) -> ConnectorError {
        ConnectorError::Http {
            status,
            message: format!("status {status}"),
            retry_after: Some(after),
        }
    }

    #[test]
    fn the_vendors_retry_after_is_waited_for_and_capped() {
        let mut backoff = crate::retry::delays(FAST.min_delay, FAST.max_delay);
        let after = |secs| http_after(503, Duration::from_secs(secs));
        let (delay, refused) = pause_after(&after(120), &mut backoff, &FAST);
        assert_eq!((delay, refused), (Duration::from_secs(120), false));
        // A week-long Retry-After waits the cap, not a week.
        let (delay, _) = pause_after(&after(7 * 86_400), &mut backoff, &FAST);
        assert_eq!(delay, MAX_REGISTER_RETRY_AFTER);
        let throttled = http_after(429, Duration::from_secs(30));
        let (delay, refused) = pause_after(&throttled, &mut backoff, &FAST);
        assert_eq!((delay, refused), (Duration::from_secs(30), false));
        // Without one, the backoff.
        let (delay, _) = pause_after(&http(503), &mut backoff, &FAST);
        assert!(delay <= FAST.max_delay, "{delay:?}");
    }

    #[test]
    fn a_permanent_refusal_waits_the_longest_delay() {
        let policy = RegisterPolicy {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
        };
        let mut backoff = crate::retry::delays(policy.min_delay, policy.max_delay);
        for status in [400, 401, 403, 404] {
            let (delay, refused) = pause_after(&http(status), &mut backoff, &policy);
            assert_eq!((delay, refused), (policy.max_delay, true), "{status}");
        }
    }

    #[tokio::test]
    async fn a_permanent_refusal_shows_failed_and_is_retried() {
        let health = Health::default();
        let connector = Scripted::new(vec![http(403), http(403)]);
        let (_tx, rx) = watch::channel(false);
        let task = tokio::spawn(register_until_done(
            connector.clone(),
            "c".into(),
            "u".into(),
            health.clone(),
            FAST,
            Stop::new(rx),
        ));
        // The state after the first refusal (set before its pause).
        while health.registration("c").is_none() {
            tokio::task::yield_now().await;
        }
        match health.registration("c") {
            Some(Registration::Failed {
                attempts: 1,
                last_error,
            }) => assert!(last_error.contains("403"), "{last_error}"),
            other => panic!("{other:?}"),
        }
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("registered after the refusals")
            .unwrap();
        assert_eq!(connector.calls.load(Ordering::SeqCst), 3, "kept retrying");
        assert_eq!(
            health.registration("c"),
            Some(Registration::Registered { attempts: 3 })
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
