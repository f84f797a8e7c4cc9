//! Per-connection rate limiting: a requests-per-second quota with burst
//! ([`pacer`]: at most the rate in any second, evenly spaced), an optional
//! hourly budget, and a cap on concurrent calls.

mod pacer;

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, Quota};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// A connection's limits, as configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Sustained requests per second: never more than this (plus
    /// `burst − 1`) in any second as the vendor counts them (a call counts
    /// from its start until a second after its answer), spaced evenly.
    pub requests_per_second: u32,
    /// Requests allowed at once above the sustained rate.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Budget per rolling hour (Autotask: keep it under the tenant's 10,000).
    #[serde(default)]
    pub requests_per_hour: Option<u32>,
    /// Calls in flight at once (Autotask allows 3 per integration and endpoint).
    pub max_concurrent: u32,
}

fn default_burst() -> u32 {
    1
}

impl RateLimits {
    pub fn validate(&self) -> Result<(), String> {
        if self.requests_per_second == 0 {
            return Err("requests_per_second must be at least 1".into());
        }
        if self.burst == 0 {
            return Err("burst must be at least 1".into());
        }
        if self.max_concurrent == 0 {
            return Err("max_concurrent must be at least 1".into());
        }
        if self.requests_per_hour == Some(0) {
            return Err("requests_per_hour must be at least 1 when set".into());
        }
        Ok(())
    }
}

/// Shared limiter for one connection; clone freely.
#[derive(Clone)]
pub struct RateLimiter {
    per_second: Arc<Pace>,
    per_hour: Option<Arc<DefaultDirectRateLimiter>>,
    concurrency: Arc<Semaphore>,
}

/// The per-second quota and the signal that a call finished.
struct Pace {
    pacer: Mutex<pacer::Pacer>,
    finished: Notify,
}

impl Pace {
    fn pacer(&self) -> std::sync::MutexGuard<'_, pacer::Pacer> {
        self.pacer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Held while a request is in flight.
pub struct Permit {
    _pace: PaceGuard,
    _concurrency: Option<OwnedSemaphorePermit>,
}

/// Tells the per-second quota when the call finished (dropped with the
/// [`Permit`]: answered, failed or cancelled).
struct PaceGuard(Arc<Pace>);

impl Drop for PaceGuard {
    fn drop(&mut self) {
        self.0.pacer().finish(tokio::time::Instant::now());
        self.0.finished.notify_waiters();
    }
}

/// Waits until `limiter` grants one request, sleeping on tokio's timer
/// (governor's own `until_ready` parks on a separate futures-timer thread).
async fn wait_for_quota(limiter: &DefaultDirectRateLimiter) {
    use governor::clock::Clock;
    while let Err(not_until) = limiter.check() {
        let wait = not_until.wait_time_from(limiter.clock().now());
        tokio::time::sleep(wait.max(std::time::Duration::from_millis(1))).await;
    }
}

/// Waits until the per-second quota lets one request start (tokio's timer).
async fn wait_for_pace(pace: &Arc<Pace>) -> PaceGuard {
    loop {
        let finished = pace.finished.notified();
        tokio::pin!(finished);
        finished.as_mut().enable();
        let answer = pace.pacer().check(tokio::time::Instant::now());
        match answer {
            Ok(()) => return PaceGuard(pace.clone()),
            Err(pacer::Wait::Until(at)) => tokio::time::sleep_until(at).await,
            Err(pacer::Wait::Finish) => finished.await,
        }
    }
}

fn non_zero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl RateLimiter {
    pub fn new(limits: &RateLimits) -> Self {
        let per_hour = limits
            .requests_per_hour
            .map(|n| Arc::new(governor::RateLimiter::direct(Quota::per_hour(non_zero(n)))));
        Self {
            per_second: Arc::new(Pace {
                pacer: Mutex::new(pacer::Pacer::new(limits.requests_per_second, limits.burst)),
                finished: Notify::new(),
            }),
            per_hour,
            concurrency: Arc::new(Semaphore::new(limits.max_concurrent.max(1) as usize)),
        }
    }

    /// Waits for a concurrency slot and for both quotas.
    pub async fn acquire(&self) -> Permit {
        // The semaphore is never closed; if it were, calls proceed unthrottled by it.
        let permit = self.concurrency.clone().acquire_owned().await.ok();
        if let Some(hourly) = &self.per_hour {
            wait_for_quota(hourly).await;
        }
        let pace = wait_for_pace(&self.per_second).await;
        Permit {
            _pace: pace,
            _concurrency: permit,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The hourly quota holds even when the per-second rate would allow
    /// more: the request after the quota waits (for minutes, far longer
    /// than this test looks), it is not refused.
    #[tokio::test]
    async fn the_hourly_quota_is_kept() {
        let limiter = RateLimiter::new(&RateLimits {
            requests_per_second: 1000,
            burst: 100,
            requests_per_hour: Some(5),
            max_concurrent: 10,
        });
        for n in 0..5 {
            tokio::time::timeout(Duration::from_secs(10), limiter.acquire())
                .await
                .unwrap_or_else(|_| panic!("request {n} of the hourly quota waited"));
        }
        let sixth = tokio::time::timeout(Duration::from_millis(300), limiter.acquire()).await;
        assert!(sixth.is_err(), "a sixth request within the hour went out");
    }

    #[tokio::test]
    async fn calls_in_flight_are_capped() {
        let limiter = RateLimiter::new(&RateLimits {
            requests_per_second: 1000,
            burst: 100,
            requests_per_hour: None,
            max_concurrent: 2,
        });
        let first = limiter.acquire().await;
        let _second = limiter.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(200), limiter.acquire()).await;
        assert!(third.is_err(), "a third call ran beside two");
        drop(first);
        tokio::time::timeout(Duration::from_secs(10), limiter.acquire())
            .await
            .expect("a freed slot is reused");
    }
}
