//! The one retry policy the planner and delivery share.
//!
//! * A failed step (a notice that could not be planned, an operation that
//!   could not be delivered) is tried again on a capped exponential schedule
//!   with jitter (`backon`: 1 s doubling, each delay stretched by up to 100%
//!   at random, at most 10 min), never sooner than the
//!   vendor's `Retry-After` (itself capped at [`MAX_RETRY_AFTER`]).
//! * Retryable errors are retried for a period (`daemon.retry_for_hours`,
//!   default [`DEFAULT_RETRY_FOR_HOURS`]) counted from the first failure, not
//!   for a fixed number of attempts: a vendor outage of a day does not
//!   dead-letter anything.
//! * A 429 is the vendor pacing us, not a failure: it waits but is not
//!   counted as an attempt and does not start the period.
//! * Planning reads retry a transient failure in place ([`read_in_place`]: 3
//!   more tries, 50–400 ms jittered) before giving the step back to the
//!   schedule, so one dropped call does not delay a ticket by seconds.
//!
//! Every time computation here is checked: no `Retry-After`, attempt count
//! or configuration value can make `DateTime + Duration` overflow.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use psa_connector::{ConnectorError, RetryAction};

/// Default of `daemon.retry_for_hours`: three days, a long vendor outage.
pub const DEFAULT_RETRY_FOR_HOURS: u64 = 72;
/// Largest accepted `daemon.retry_for_hours` (one year).
pub const MAX_RETRY_FOR_HOURS: u64 = 24 * 366;
/// Longest wait between two attempts from the exponential schedule.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Longest `Retry-After` honoured; longer values wait this long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How long and how often failed steps are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    retry_for_hours: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::for_hours(DEFAULT_RETRY_FOR_HOURS)
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Try again at `at`; `counted` says whether this failure counts as an
    /// attempt (a 429 does not).
    Retry { at: DateTime<Utc>, counted: bool },
    /// Stop: the error is permanent or the retry period is over.
    GiveUp { reason: String },
}

impl RetryPolicy {
    /// Retries for `hours` (clamped to 1..=[`MAX_RETRY_FOR_HOURS`]).
    pub fn for_hours(hours: u64) -> Self {
        Self {
            retry_for_hours: hours.clamp(1, MAX_RETRY_FOR_HOURS),
        }
    }

    /// How long retryable errors are retried, from the first failure.
    pub fn retry_for(&self) -> chrono::Duration {
        // At most a year of hours: cannot overflow.
        chrono::Duration::hours(self.retry_for_hours as i64)
    }

    /// Delay before the attempt after `attempts` counted failures: the
    /// vendor's `Retry-After` when given (capped), else the jittered backoff.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> chrono::Duration {
        let delay = match retry_after {
            Some(after) => after.min(MAX_RETRY_AFTER),
            None => backoff(attempts),
        };
        chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(600))
    }

    /// Decides what follows a failed attempt. `attempts` counts the failures
    /// before this one; `first_failed_at` is when the first of them happened.
    pub fn decide(
        &self,
        error: &ConnectorError,
        attempts: u32,
        first_failed_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Decision {
        let RetryAction::Retry { after } = error.retry_action() else {
            return Decision::GiveUp {
                reason: "the vendor refused it (permanent error)".into(),
            };
        };
        if error.http_status() == Some(429) {
            return Decision::Retry {
                at: later(now, self.delay(attempts.max(1), after)),
                counted: false,
            };
        }
        let since = first_failed_at.unwrap_or(now);
        if now.signed_duration_since(since) >= self.retry_for() {
            return Decision::GiveUp {
                reason: format!(
                    "still failing after retrying for {} hour(s)",
                    self.retry_for_hours
                ),
            };
        }
        Decision::Retry {
            at: later(now, self.delay(attempts.saturating_add(1), after)),
            counted: true,
        }
    }
}

/// The one backoff shape every retry loop uses (delivery and planning
/// schedule, planning reads in place, task restarts, webhook registration):
/// `min` doubling up to `max`, each delay stretched by up to 100% at random
/// (`backon` jitter). Bound it with `with_max_times`, or use [`delays`].
pub fn exponential(min: Duration, max: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
}

/// The endless sequence of [`exponential`] delays from `min` to `max`.
pub fn delays(min: Duration, max: Duration) -> ExponentialBackoff {
    exponential(min, max).without_max_times().build()
}

/// The jittered exponential backoff for attempt number `attempts` (1-based):
/// `[d, 2d)` with `d` = 1 s, 2 s, 4 s, … up to half of [`MAX_BACKOFF`].
pub fn backoff(attempts: u32) -> Duration {
    delays(Duration::from_secs(1), MAX_BACKOFF / 2)
        .nth(attempts.saturating_sub(1).min(64) as usize)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

/// `now + by`, never panicking: absurd durations are capped at
/// [`MAX_RETRY_AFTER`] and an unrepresentable sum yields `now`.
pub fn later(now: DateTime<Utc>, by: chrono::Duration) -> DateTime<Utc> {
    let cap = chrono::Duration::from_std(MAX_RETRY_AFTER).unwrap_or(chrono::Duration::days(1));
    now.checked_add_signed(by.min(cap)).unwrap_or(now)
}

/// `now + by` for a `std` duration (e.g. a vendor's `Retry-After`), capped like [`later`].
pub fn later_std(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    later(
        now,
        chrono::Duration::from_std(by.min(MAX_RETRY_AFTER)).unwrap_or(chrono::Duration::days(1)),
    )
}

/// Tries a planning read (ticket, comments, marker lookup) up to 3 more
/// times with 50–400 ms jittered pauses when it fails transiently; a 429 or
/// a permanent error is returned at once (the schedule honours `Retry-After`).
pub async fn read_in_place<T, F, Fut>(read: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ConnectorError>>,
{
    // [50, 100), [100, 200), [200, 400) ms with jitter.
    in_place(read, Duration::from_millis(50), 3, "read").await
}

/// Tries one delivery of an outbox operation up to 2 more times with
/// 100–400 ms jittered pauses when it fails transiently, before the failure
/// is recorded and the operation goes back to the schedule. Safe only
/// because every delivery is idempotent (`delivery::apply`: a create or a
/// note retried here looks for the bridge's marker first, updates write the same
/// values); without it one unlucky operation at a 15% fault rate can sit
/// minutes in the exponential schedule and hold back its ticket's queue.
pub async fn deliver_in_place<T, F, Fut>(deliver: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ConnectorError>>,
{
    in_place(deliver, Duration::from_millis(100), 2, "delivery").await
}

async fn in_place<T, F, Fut>(
    call: F,
    first_pause: Duration,
    retries: usize,
    what: &'static str,
) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ConnectorError>>,
{
    let backoff = exponential(first_pause, first_pause * 4).with_max_times(retries);
    call.retry(backoff)
        .when(|e: &ConnectorError| e.is_retryable() && e.http_status() != Some(429))
        .notify(|e: &ConnectorError, pause: Duration| {
            tracing::debug!(error = %e, ?pause, "{what} failed; trying again in place");
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, retry_after: Option<Duration>) -> ConnectorError {
        ConnectorError::Http {
            status,
            message: "x".into(),
            retry_after,
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for _ in 0..20 {
            let first = backoff(1);
            assert!(first >= Duration::from_secs(1) && first < Duration::from_secs(2));
            let third = backoff(3);
            assert!(third >= Duration::from_secs(4) && third < Duration::from_secs(8));
            let late = backoff(30);
            assert!(late >= MAX_BACKOFF / 2 && late <= MAX_BACKOFF, "{late:?}");
            assert!(backoff(u32::MAX) <= MAX_BACKOFF);
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(30))),
            chrono::Duration::seconds(30)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(u64::MAX))),
            chrono::Duration::days(1)
        );
    }

    #[test]
    fn time_arithmetic_never_panics() {
        let now = Utc::now();
        assert_eq!(
            later(now, chrono::Duration::MAX),
            now + chrono::Duration::days(1)
        );
        assert_eq!(
            later_std(now, Duration::from_secs(u64::MAX)),
            now + chrono::Duration::days(1)
        );
        let end = DateTime::<Utc>::MAX_UTC;
        assert_eq!(later(end, chrono::Duration::seconds(5)), end);
        let p = RetryPolicy::default();
        let huge = http(503, Some(Duration::from_secs(u64::MAX)));
        assert!(matches!(
            p.decide(&huge, u32::MAX, Some(end), end),
            Decision::Retry { .. }
        ));
        assert_eq!(
            RetryPolicy::for_hours(u64::MAX).retry_for(),
            chrono::Duration::hours(MAX_RETRY_FOR_HOURS as i64)
        );
    }

    #[test]
    fn retries_for_a_period_not_a_count() {
        let p = RetryPolicy::for_hours(72);
        let start = Utc::now();
        let e = http(503, None);
        // Attempt 500, two days in: still retried.
        let two_days = start + chrono::Duration::hours(48);
        assert!(matches!(
            p.decide(&e, 500, Some(start), two_days),
            Decision::Retry { counted: true, .. }
        ));
        let over = start + chrono::Duration::hours(72);
        assert!(matches!(
            p.decide(&e, 501, Some(start), over),
            Decision::GiveUp { .. }
        ));
        assert!(matches!(
            p.decide(&http(400, None), 0, None, start),
            Decision::GiveUp { .. }
        ));
    }

    #[test]
    fn throttling_is_not_an_attempt() {
        let p = RetryPolicy::for_hours(1);
        let start = Utc::now();
        let throttled = http(429, Some(Duration::from_secs(30)));
        // Even past the period: a 429 waits, it does not give up.
        let late = start + chrono::Duration::hours(5);
        assert_eq!(
            p.decide(&throttled, 3, Some(start), late),
            Decision::Retry {
                at: late + chrono::Duration::seconds(30),
                counted: false
            }
        );
    }

    #[tokio::test]
    async fn reads_retry_in_place_a_few_times() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let result = read_in_place(|| async {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n < 2 {
                Err(http(503, None))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(result.unwrap(), 2);
        calls.store(0, std::sync::atomic::Ordering::SeqCst);
        let result: Result<(), _> = read_in_place(|| async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(http(503, None))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
        calls.store(0, std::sync::atomic::Ordering::SeqCst);
        let result: Result<(), _> = read_in_place(|| async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(http(404, None))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
