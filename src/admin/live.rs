//! What the admin API's connection status knows only while the daemon runs:
//! per connection, when a poll last succeeded, when a webhook was last
//! accepted, and the configured hourly call budget. The poller and the
//! webhook receiver record into it (one call each); the vendor-call counters
//! themselves live in each connector's `psa_connector::ApiStats`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use psa_connector::Timestamp;

/// One connection's live figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionLive {
    /// Unix ms of the last poll round that succeeded.
    pub last_poll_ok_unix_ms: Option<i64>,
    /// Unix ms of the last webhook accepted (answered 200).
    pub webhook_last_seen_unix_ms: Option<i64>,
    /// `limits.requests_per_hour` in effect (configured or the vendor default).
    pub requests_per_hour: Option<u32>,
}

/// The registry, shared by the engine's users; cheap to read.
#[derive(Debug)]
pub struct Live {
    started_unix_ms: i64,
    connections: Mutex<BTreeMap<String, ConnectionLive>>,
}

impl Default for Live {
    fn default() -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Self {
            started_unix_ms: started,
            connections: Mutex::default(),
        }
    }
}

impl Live {
    fn with(&self, connection: &str, f: impl FnOnce(&mut ConnectionLive)) {
        let mut map = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        f(map.entry(connection.to_string()).or_default());
    }

    /// When this registry (the daemon) started, Unix ms.
    pub fn started_unix_ms(&self) -> i64 {
        self.started_unix_ms
    }

    /// A poll round of `connection` succeeded at `at`.
    pub fn poll_ok(&self, connection: &str, at: Timestamp) {
        self.with(connection, |c| {
            c.last_poll_ok_unix_ms = Some(at.timestamp_millis())
        });
    }

    /// A webhook for `connection` was accepted at `at`.
    pub fn webhook_seen(&self, connection: &str, at: Timestamp) {
        self.with(connection, |c| {
            c.webhook_last_seen_unix_ms = Some(at.timestamp_millis())
        });
    }

    /// The hourly budget of `connection` (set once at start-up).
    pub fn set_budget(&self, connection: &str, requests_per_hour: Option<u32>) {
        self.with(connection, |c| c.requests_per_hour = requests_per_hour);
    }

    /// What is known of `connection` (all `None` before anything happened).
    pub fn get(&self, connection: &str) -> ConnectionLive {
        let map = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        map.get(connection).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_connection() {
        let live = Live::default();
        assert_eq!(live.get("a"), ConnectionLive::default());
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        live.poll_ok("a", at);
        live.webhook_seen("b", at);
        live.set_budget("a", Some(100));
        assert_eq!(live.get("a").last_poll_ok_unix_ms, Some(1_700_000_000_123));
        assert_eq!(live.get("a").requests_per_hour, Some(100));
        assert_eq!(live.get("a").webhook_last_seen_unix_ms, None);
        assert_eq!(
            live.get("b").webhook_last_seen_unix_ms,
            Some(1_700_000_000_123)
        );
        assert!(live.started_unix_ms() > 0);
    }
}
