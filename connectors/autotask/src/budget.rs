//! The tenant's shared request budget. Autotask allows 10,000 requests per
//! rolling hour for the whole database, shared by every integration, adds
//! latency from about half of it and refuses calls at the threshold. The
//! connector reads `GET /V1.0/ThresholdInformation` every
//! `api_budget_check_calls` calls or `api_budget_check_secs` seconds
//! (whichever comes first) and, before each call:
//!
//! - below `api_budget_share` × threshold (tenant-wide usage): full speed;
//! - from there to the pause point (half-way from the share to the
//!   threshold, at most 95 % of it): **slowing**, each call waits so the
//!   headroom left is spread over the hour;
//! - at or past the pause point: **paused**, the call is not sent and fails
//!   like a vendor 429 (retryable, `Retry-After` = the check interval), so
//!   the delivery worker pauses the connection and the poller tries later;
//!   the figures are read again once the check interval has passed.
//!
//! A failed read keeps the last figures (and state) and is tried again at
//! the next check. [`Budget::snapshot`] exposes the figures
//! (`Connector::budget`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::Method;
use psa_connector::{ApiBudget, BudgetState, ConnectorError};
use serde::Deserialize;

use crate::client::AutotaskConnector;

/// The longest wait between two calls while slowing.
const MAX_SLOW_DELAY: Duration = Duration::from_secs(30);
/// The shortest wait between two calls while slowing.
const MIN_SLOW_DELAY: Duration = Duration::from_millis(100);

/// `GET /V1.0/ThresholdInformation`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThresholdInformation {
    #[serde(alias = "ExternalRequestThreshold")]
    pub external_request_threshold: u64,
    #[serde(alias = "RequestThresholdTimeframe", default = "sixty")]
    pub request_threshold_timeframe: u64,
    #[serde(alias = "CurrentTimeframeRequestCount")]
    pub current_timeframe_request_count: u64,
}

fn sixty() -> u64 {
    60
}

/// Where a tenant's usage puts the bridge, for threshold `threshold` and share `share`.
pub(crate) fn state_for(used: u64, threshold: u64, share: f64) -> BudgetState {
    if threshold == 0 {
        return BudgetState::Paused;
    }
    let slow_at = share * threshold as f64;
    if used as f64 >= pause_at(threshold, share) {
        BudgetState::Paused
    } else if used as f64 >= slow_at {
        BudgetState::Slowing
    } else {
        BudgetState::Ok
    }
}

/// Usage at which calls stop: half-way from the share to the threshold,
/// never past 95 % of it (the vendor refuses at 100 %).
pub(crate) fn pause_at(threshold: u64, share: f64) -> f64 {
    let t = threshold as f64;
    ((share * t + t) / 2.0).min(0.95 * t)
}

/// The wait before a call while slowing: the hour's window spread over the
/// calls left before the pause point.
pub(crate) fn slow_delay(used: u64, threshold: u64, share: f64, window: Duration) -> Duration {
    let left = (pause_at(threshold, share) - used as f64).max(1.0);
    Duration::from_secs_f64(window.as_secs_f64() / left).clamp(MIN_SLOW_DELAY, MAX_SLOW_DELAY)
}

#[derive(Default)]
struct Figures {
    info: Option<(ThresholdInformation, chrono::DateTime<chrono::Utc>)>,
    last_read: Option<Instant>,
}

/// The connector's view of the tenant budget.
pub(crate) struct Budget {
    share: f64,
    check_every_calls: u64,
    check_every: Duration,
    calls_since_read: AtomicU64,
    figures: Mutex<Figures>,
    /// One reader at a time.
    reading: tokio::sync::Mutex<()>,
}

impl Budget {
    pub(crate) fn new(share: f64, check_every_calls: u64, check_every: Duration) -> Self {
        Self {
            share,
            check_every_calls: check_every_calls.max(1),
            check_every,
            calls_since_read: AtomicU64::new(0),
            figures: Mutex::new(Figures::default()),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    fn figures(&self) -> std::sync::MutexGuard<'_, Figures> {
        self.figures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn due(&self) -> bool {
        let last = self.figures().last_read;
        last.is_none_or(|at| at.elapsed() >= self.check_every)
            || self.calls_since_read.load(Ordering::Relaxed) >= self.check_every_calls
    }

    /// The figures as last read.
    pub(crate) fn snapshot(&self) -> Option<ApiBudget> {
        let figures = self.figures();
        let (info, at) = figures.info.as_ref()?;
        Some(ApiBudget {
            threshold: info.external_request_threshold,
            window_minutes: info.request_threshold_timeframe,
            used: info.current_timeframe_request_count,
            share: self.share,
            state: state_for(
                info.current_timeframe_request_count,
                info.external_request_threshold,
                self.share,
            ),
            read_at: Some(at.to_rfc3339()),
        })
    }
}

impl AutotaskConnector {
    /// Reads the tenant's budget from the vendor now (the CLI, tests).
    pub async fn read_budget_now(&self) -> Result<ApiBudget, ConnectorError> {
        let _one = self.budget.reading.lock().await;
        self.read_budget().await
    }

    /// Reads ThresholdInformation now (outside the budget gate).
    pub(crate) async fn read_budget(&self) -> Result<ApiBudget, ConnectorError> {
        let http = self.http().await?;
        let url = http.url("ThresholdInformation")?;
        let result = http
            .send(Method::GET, url, None)
            .await
            .map_err(crate::errors::classify)
            .and_then(|r| r.json::<ThresholdInformation>());
        let budget = &self.budget;
        let mut figures = budget.figures();
        figures.last_read = Some(Instant::now());
        budget.calls_since_read.store(0, Ordering::Relaxed);
        let info = result.map_err(|e| match e {
            ConnectorError::InvalidResponse(m) => {
                ConnectorError::InvalidResponse(format!("ThresholdInformation: {m}"))
            }
            other => other,
        })?;
        figures.info = Some((info, chrono::Utc::now()));
        drop(figures);
        budget
            .snapshot()
            .ok_or_else(|| ConnectorError::InvalidResponse("ThresholdInformation: empty".into()))
    }

    /// Called before every vendor call: refreshes the figures when due,
    /// then waits (slowing) or refuses (paused).
    pub(crate) async fn spend_budget(&self) -> Result<(), ConnectorError> {
        let budget = &self.budget;
        if budget.due() {
            let _one = budget.reading.lock().await;
            if budget.due() {
                if let Err(e) = self.read_budget().await {
                    tracing::warn!(error = %e, "cannot read Autotask ThresholdInformation; keeping the last figures");
                }
            }
        }
        budget.calls_since_read.fetch_add(1, Ordering::Relaxed);
        let Some(now) = budget.snapshot() else {
            return Ok(());
        };
        match now.state {
            BudgetState::Ok => Ok(()),
            BudgetState::Slowing => {
                let delay = slow_delay(
                    now.used,
                    now.threshold,
                    now.share,
                    Duration::from_secs(now.window_minutes.max(1) * 60),
                );
                tracing::debug!(
                    used = now.used,
                    threshold = now.threshold,
                    delay_ms = delay.as_millis() as u64,
                    "Autotask budget: slowing"
                );
                tokio::time::sleep(delay).await;
                Ok(())
            }
            BudgetState::Paused => {
                // Not sent: counts as no call.
                budget.calls_since_read.fetch_sub(1, Ordering::Relaxed);
                tracing::warn!(
                    used = now.used,
                    threshold = now.threshold,
                    share = now.share,
                    "Autotask tenant budget nearly used up; the bridge pauses its calls"
                );
                Err(ConnectorError::Http {
                    status: 429,
                    message: format!(
                        "paused by the bridge: the Autotask tenant has used {} of its {} requests this window \
                         (the bridge pauses at {:.0}, api_budget_share {})",
                        now.used,
                        now.threshold,
                        pause_at(now.threshold, now.share),
                        now.share
                    ),
                    retry_after: Some(budget.check_every.max(Duration::from_secs(1))),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_share_and_the_pause_point() {
        assert_eq!(state_for(4_999, 10_000, 0.5), BudgetState::Ok);
        assert_eq!(state_for(5_000, 10_000, 0.5), BudgetState::Slowing);
        assert_eq!(state_for(7_499, 10_000, 0.5), BudgetState::Slowing);
        assert_eq!(state_for(7_500, 10_000, 0.5), BudgetState::Paused);
        // A share of 1 still stops short of the vendor's refusal.
        assert_eq!(state_for(9_499, 10_000, 1.0), BudgetState::Ok);
        assert_eq!(state_for(9_500, 10_000, 1.0), BudgetState::Paused);
        assert_eq!(state_for(0, 0, 0.5), BudgetState::Paused);
    }

    #[test]
    fn slowing_spreads_the_headroom_over_the_window() {
        let hour = Duration::from_secs(3600);
        // 2,500 calls left before the pause point: 1.44 s apart.
        let d = slow_delay(5_000, 10_000, 0.5, hour);
        assert!((d.as_secs_f64() - 1.44).abs() < 0.01, "{d:?}");
        // Nearly none left: the longest wait.
        assert_eq!(slow_delay(7_499, 10_000, 0.5, hour), MAX_SLOW_DELAY);
        assert_eq!(slow_delay(0, 1_000_000, 0.5, hour), MIN_SLOW_DELAY);
    }
}
