//! An admin-defined rate-limit rule: at most `limit` requests per window
//! (an hour on a real instance). Matching answers carry `X-RateLimit-Limit`,
//! `X-RateLimit-Reset` (UNIX seconds) and `X-RateLimit-Rule`; over the limit
//! the answer is 429 with `Retry-After` (seconds). There is no
//! `X-RateLimit-Remaining`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// One rate-limit rule and its current window.
#[derive(Clone, Debug)]
pub(crate) struct RateRule {
    pub limit: u32,
    pub window: Duration,
    pub rule_id: String,
    window_start: DateTime<Utc>,
    used: u32,
}

/// The headers to add, and whether the request is refused (with its wait).
pub(crate) struct RateDecision {
    pub headers: Vec<(&'static str, String)>,
    pub retry_after: Option<u64>,
}

impl RateRule {
    pub fn new(limit: u32, window: Duration, rule_id: &str) -> Self {
        Self {
            limit,
            window,
            rule_id: rule_id.to_string(),
            window_start: Utc::now(),
            used: 0,
        }
    }

    /// Counts one request at `now`.
    pub fn check(&mut self, now: DateTime<Utc>) -> RateDecision {
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::hours(1));
        if now >= self.window_start + window {
            self.window_start = now;
            self.used = 0;
        }
        let reset = self.window_start + window;
        let headers = vec![
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-reset", reset.timestamp().to_string()),
            ("x-ratelimit-rule", self.rule_id.clone()),
        ];
        if self.used >= self.limit {
            let wait = (reset - now).num_seconds().max(1) as u64;
            return RateDecision {
                headers,
                retry_after: Some(wait),
            };
        }
        self.used += 1;
        RateDecision {
            headers,
            retry_after: None,
        }
    }
}
