//! Live counters of one connection's vendor calls, kept by its
//! [`crate::http::HttpClient`]: calls by kind (read or write), answers by
//! class (success, 429, other errors), time spent waiting on the rate
//! limiter, the calls of the last rolling hour (the budget used) and when the
//! vendor last answered with a success (and since when calls have been
//! failing, for `/readyz`). The admin API's connection status and
//! the Prometheus exporter read them with [`ApiStats::snapshot`]; recording
//! takes no lock but the one guarding the hour's minute buckets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::time::Instant;

/// Minutes in the rolling window of [`ApiStatsSnapshot::calls_last_hour`].
const WINDOW_MINUTES: usize = 60;

/// Whether a call reads or writes (by HTTP method: `GET` reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    Read,
    Write,
}

impl CallKind {
    /// The label used in metrics and the admin API.
    pub fn label(self) -> &'static str {
        match self {
            CallKind::Read => "read",
            CallKind::Write => "write",
        }
    }
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// A 2xx answer.
    Success,
    /// 429 Too Many Requests.
    Throttled,
    /// Another 4xx but 401 and 408: the vendor answered and refused this
    /// request (bad input, no permission on a record, not found). It is
    /// reachable.
    Refused,
    /// A 5xx, a 401 (credentials refused: nothing will work) or a 408, or
    /// no answer (transport failure, timeout).
    Failed,
}

/// Shared counters of one connection; clone freely (all clones count together).
#[derive(Clone)]
pub struct ApiStats {
    inner: Arc<Inner>,
}

struct Inner {
    started: Instant,
    reads: AtomicU64,
    writes: AtomicU64,
    successes: AtomicU64,
    throttled: AtomicU64,
    failed: AtomicU64,
    rate_wait_micros: AtomicU64,
    /// Unix milliseconds of the last 2xx answer; 0 before the first.
    last_success_ms: AtomicU64,
    /// Unix milliseconds of the last failed call (not 429); 0 before the first.
    last_failure_ms: AtomicU64,
    /// Unix milliseconds of the first failed call (not 429) since the last
    /// success; 0 while the latest such outcome was a success.
    failing_since_ms: AtomicU64,
    /// (minute since `started`, calls in it), one slot per minute of the hour.
    minutes: Mutex<[(u64, u64); WINDOW_MINUTES]>,
}

/// The counters at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApiStatsSnapshot {
    /// Calls sent with `GET` since start.
    pub reads: u64,
    /// Calls sent with another method since start.
    pub writes: u64,
    /// Answers with a 2xx status.
    pub successes: u64,
    /// 429 answers.
    pub http_429: u64,
    /// Other error answers and calls that got no answer.
    pub failures: u64,
    /// Total time calls waited on the connection's rate limiter, in ms.
    pub rate_wait_ms: u64,
    /// Calls started in the last 60 minutes (what an hourly budget counts).
    pub calls_last_hour: u64,
    /// When the vendor last answered with a success (Unix ms).
    pub last_success_unix_ms: Option<u64>,
    /// When a call last got a 5xx, a 401, a 408 or no answer (Unix ms); a
    /// refusal (another 4xx) or a 429 is an answer, not a failure here.
    pub last_failure_unix_ms: Option<u64>,
    /// When the current run of such failed calls began, with no success
    /// since (Unix ms); `None` when the latest of them did not fail.
    pub failing_since_unix_ms: Option<u64>,
}

impl Default for ApiStats {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiStats {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                started: Instant::now(),
                reads: AtomicU64::new(0),
                writes: AtomicU64::new(0),
                successes: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                rate_wait_micros: AtomicU64::new(0),
                last_success_ms: AtomicU64::new(0),
                last_failure_ms: AtomicU64::new(0),
                failing_since_ms: AtomicU64::new(0),
                minutes: Mutex::new([(u64::MAX, 0); WINDOW_MINUTES]),
            }),
        }
    }

    /// Counts a call about to be sent, after it waited `rate_wait` for the limiter.
    pub fn record_start(&self, kind: CallKind, rate_wait: Duration) {
        self.record_start_in(self.minute_now(), kind, rate_wait);
    }

    fn record_start_in(&self, minute: u64, kind: CallKind, rate_wait: Duration) {
        let inner = &self.inner;
        match kind {
            CallKind::Read => inner.reads.fetch_add(1, Ordering::Relaxed),
            CallKind::Write => inner.writes.fetch_add(1, Ordering::Relaxed),
        };
        let micros = u64::try_from(rate_wait.as_micros()).unwrap_or(u64::MAX);
        inner.rate_wait_micros.fetch_add(micros, Ordering::Relaxed);
        if let Ok(mut minutes) = inner.minutes.lock() {
            let slot = &mut minutes[(minute % WINDOW_MINUTES as u64) as usize];
            if slot.0 != minute {
                *slot = (minute, 0);
            }
            slot.1 += 1;
        }
    }

    /// Counts how a call ended.
    pub fn record_outcome(&self, outcome: CallOutcome) {
        let inner = &self.inner;
        match outcome {
            CallOutcome::Success => {
                inner.successes.fetch_add(1, Ordering::Relaxed);
                inner.last_success_ms.store(unix_ms(), Ordering::Relaxed);
                inner.failing_since_ms.store(0, Ordering::Relaxed);
            }
            CallOutcome::Throttled => {
                inner.throttled.fetch_add(1, Ordering::Relaxed);
            }
            CallOutcome::Refused => {
                inner.failed.fetch_add(1, Ordering::Relaxed);
            }
            CallOutcome::Failed => {
                inner.failed.fetch_add(1, Ordering::Relaxed);
                let now = unix_ms();
                inner.last_failure_ms.store(now, Ordering::Relaxed);
                // Only the first failure of a run sets it.
                let _ = inner.failing_since_ms.compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> ApiStatsSnapshot {
        self.snapshot_in(self.minute_now())
    }

    fn snapshot_in(&self, minute: u64) -> ApiStatsSnapshot {
        let inner = &self.inner;
        let calls_last_hour = inner
            .minutes
            .lock()
            .map(|minutes| {
                minutes
                    .iter()
                    .filter(|(m, _)| {
                        *m != u64::MAX && minute.saturating_sub(*m) < WINDOW_MINUTES as u64
                    })
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0);
        let stamp = |a: &AtomicU64| Some(a.load(Ordering::Relaxed)).filter(|ms| *ms > 0);
        ApiStatsSnapshot {
            reads: inner.reads.load(Ordering::Relaxed),
            writes: inner.writes.load(Ordering::Relaxed),
            successes: inner.successes.load(Ordering::Relaxed),
            http_429: inner.throttled.load(Ordering::Relaxed),
            failures: inner.failed.load(Ordering::Relaxed),
            rate_wait_ms: inner.rate_wait_micros.load(Ordering::Relaxed) / 1000,
            calls_last_hour,
            last_success_unix_ms: stamp(&inner.last_success_ms),
            last_failure_unix_ms: stamp(&inner.last_failure_ms),
            failing_since_unix_ms: stamp(&inner.failing_since_ms),
        }
    }

    fn minute_now(&self) -> u64 {
        self.inner.started.elapsed().as_secs() / 60
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_calls_by_kind_and_outcome() {
        let stats = ApiStats::new();
        let clone = stats.clone();
        stats.record_start(CallKind::Read, Duration::from_millis(5));
        clone.record_start(CallKind::Write, Duration::from_millis(7));
        clone.record_start(CallKind::Read, Duration::ZERO);
        stats.record_outcome(CallOutcome::Success);
        stats.record_outcome(CallOutcome::Throttled);
        stats.record_outcome(CallOutcome::Failed);
        let s = stats.snapshot();
        assert_eq!((s.reads, s.writes), (2, 1));
        assert_eq!((s.successes, s.http_429, s.failures), (1, 1, 1));
        assert_eq!(s.rate_wait_ms, 12);
        assert_eq!(s.calls_last_hour, 3);
        assert!(s.last_success_unix_ms.is_some() && s.last_failure_unix_ms.is_some());
        assert!(s.failing_since_unix_ms.is_some(), "the latest call failed");
    }

    /// A run of failures keeps its start; a 429 neither starts nor ends
    /// it; a success ends it.
    #[test]
    fn failing_since_marks_the_first_failure_after_a_success() {
        let stats = ApiStats::new();
        stats.record_outcome(CallOutcome::Throttled);
        assert_eq!(stats.snapshot().failing_since_unix_ms, None);
        stats.record_outcome(CallOutcome::Failed);
        let since = stats.snapshot().failing_since_unix_ms.expect("failing");
        std::thread::sleep(Duration::from_millis(2));
        stats.record_outcome(CallOutcome::Failed);
        stats.record_outcome(CallOutcome::Throttled);
        assert_eq!(stats.snapshot().failing_since_unix_ms, Some(since));
        stats.record_outcome(CallOutcome::Success);
        assert_eq!(stats.snapshot().failing_since_unix_ms, None);
    }

    #[test]
    fn nothing_recorded_reads_as_never() {
        let s = ApiStats::new().snapshot();
        assert_eq!(s, ApiStatsSnapshot::default());
    }

    #[test]
    fn the_hour_window_forgets_calls_older_than_sixty_minutes() {
        let stats = ApiStats::new();
        stats.record_start_in(0, CallKind::Read, Duration::ZERO);
        stats.record_start_in(30, CallKind::Write, Duration::ZERO);
        stats.record_start_in(30, CallKind::Write, Duration::ZERO);
        assert_eq!(stats.snapshot_in(30).calls_last_hour, 3);
        assert_eq!(
            stats.snapshot_in(61).calls_last_hour,
            2,
            "the first call left"
        );
        // Minute 60 reuses minute 0's slot: the old count is replaced.
        stats.record_start_in(60, CallKind::Read, Duration::ZERO);
        assert_eq!(stats.snapshot_in(60).calls_last_hour, 3);
        assert_eq!(stats.snapshot_in(200).calls_last_hour, 0);
        assert_eq!(stats.snapshot_in(200).writes, 2, "totals stay");
    }
}
