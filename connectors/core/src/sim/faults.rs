//! The fault knobs of a simulator (queued failures, error, reset and
//! timeout rates, ambiguous writes, throttling bursts, a request-rate
//! ceiling, latency) and the admission decision the middleware asks for
//! before each request reaches the vendor's routes.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use rand::Rng;

use super::{AmbiguousReply, RequestRecord, SimControl};

/// How an admitted request is served.
pub(super) struct Admitted {
    pub(super) latency: Duration,
    /// Carry the request out, then answer only after this long.
    pub(super) hang: Option<Duration>,
}

/// Why a request is not carried out.
pub(super) enum Refusal {
    Status(StatusCode, Option<u64>, &'static str),
    /// The connection is reset with no answer.
    Reset,
}

impl SimControl {
    /// The next write requests fail with these statuses, in order.
    pub fn fail_next_writes(&self, statuses: &[u16]) {
        self.knobs()
            .fail_next_writes
            .extend(statuses.iter().map(|s| (*s, None)));
    }

    /// Forgets the queued failures ([`Self::fail_next_writes`],
    /// [`Self::fail_next_reads`]) not used yet.
    pub fn clear_queued_failures(&self) {
        let mut knobs = self.knobs();
        knobs.fail_next_writes.clear();
        knobs.fail_next_reads.clear();
    }

    /// The next read requests (GETs, queries) fail with these statuses, in order.
    pub fn fail_next_reads(&self, statuses: &[u16]) {
        self.knobs()
            .fail_next_reads
            .extend(statuses.iter().copied());
    }

    /// The next write fails with `status` and a `Retry-After: retry_after_secs` header.
    pub fn fail_next_write_with_retry_after(&self, status: u16, retry_after_secs: u64) {
        self.knobs()
            .fail_next_writes
            .push_back((status, Some(retry_after_secs)));
    }

    /// The next `count` writes that succeed are applied, then answered as
    /// `reply` says instead of with their real answer.
    pub fn ambiguous_next_writes(&self, reply: AmbiguousReply, count: usize) {
        self.knobs()
            .ambiguous_next_writes
            .extend(std::iter::repeat_n((reply, None), count));
    }

    /// Like [`Self::ambiguous_next_writes`], only for writes whose path
    /// contains `path_fragment` (e.g. `/notes` or `/Notes`); other writes
    /// are answered normally and do not use these up.
    pub fn ambiguous_next_writes_to(
        &self,
        reply: AmbiguousReply,
        count: usize,
        path_fragment: &str,
    ) {
        self.knobs()
            .ambiguous_next_writes
            .extend(std::iter::repeat_n(
                (reply, Some(path_fragment.to_string())),
                count,
            ));
    }

    /// Fraction (0..=1) of successful writes that are applied and then
    /// answered 503 or dropped (half each), for chaos runs.
    pub fn set_ambiguous_rate(&self, rate: f64) {
        self.knobs().ambiguous_rate = rate.clamp(0.0, 1.0);
    }

    /// Queued ambiguous answers not yet used.
    pub fn pending_ambiguous_writes(&self) -> usize {
        self.knobs().ambiguous_next_writes.len()
    }

    /// Writes that were applied but answered ambiguously, in order.
    pub fn ambiguous_writes(&self) -> Vec<RequestRecord> {
        self.knobs()
            .log
            .iter()
            .filter(|r| r.ambiguous.is_some())
            .cloned()
            .collect()
    }

    /// Whether the answer to a write the handler just applied is replaced.
    pub(super) fn take_ambiguity(&self, path: &str) -> Option<AmbiguousReply> {
        let mut k = self.knobs();
        let queued = k
            .ambiguous_next_writes
            .iter()
            .position(|(_, only)| only.as_deref().is_none_or(|f| path.contains(f)));
        if let Some((reply, _)) = queued.and_then(|i| k.ambiguous_next_writes.remove(i)) {
            return Some(reply);
        }
        let mut rng = rand::rng();
        (k.ambiguous_rate > 0.0 && rng.random_bool(k.ambiguous_rate)).then(|| {
            if rng.random_bool(0.5) {
                AmbiguousReply::Unavailable
            } else {
                AmbiguousReply::Dropped
            }
        })
    }

    /// Fraction (0..=1) of requests that fail with a 502, 503 or 504
    /// before the vendor applies anything.
    pub fn set_error_rate(&self, rate: f64) {
        self.knobs().error_rate = rate.clamp(0.0, 1.0);
    }

    /// Fraction (0..=1) of requests whose connection is reset before the
    /// vendor applies anything: the client sees the connection end with no
    /// answer.
    pub fn set_reset_rate(&self, rate: f64) {
        self.knobs().reset_rate = rate.clamp(0.0, 1.0);
    }

    /// Fraction (0..=1) of requests the vendor carries out but answers only
    /// after [`Self::set_hang`] (60 s unless set), so a client with a
    /// shorter timeout never learns that its write was applied.
    pub fn set_timeout_rate(&self, rate: f64) {
        self.knobs().timeout_rate = rate.clamp(0.0, 1.0);
    }

    /// How long a timed-out request (see [`Self::set_timeout_rate`]) hangs.
    pub fn set_hang(&self, hang: Duration) {
        self.knobs().hang = hang;
    }

    /// Every request for the next `length` is answered 429 with
    /// `Retry-After: retry_after_secs` (a burst of throttling).
    pub fn throttle_for(&self, length: Duration, retry_after_secs: u64) {
        self.knobs().throttled_until = Some((Instant::now() + length, retry_after_secs));
    }

    /// Delay added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.knobs().latency = latency;
    }

    /// Above `per_second` requests in any one-second window, answer 429 with
    /// `Retry-After: retry_after_secs`.
    pub fn set_rate_limit(&self, per_second: Option<u32>, retry_after_secs: u64) {
        self.knobs().rate_limit = per_second.map(|n| (n, retry_after_secs));
    }

    /// Above `limit` calls in flight from one API user, answer 429 with `message`
    /// (Autotask: "The Autotask API thread threshold of 3 threads has been exceeded").
    pub fn set_concurrency_limit(&self, limit: Option<usize>, message: &'static str) {
        self.knobs().concurrency_limit = limit.map(|l| (l, message));
    }

    /// Decides, before routing, whether this request is throttled or faulted.
    pub(super) fn admit(&self, is_write: bool) -> Result<Admitted, Refusal> {
        let mut k = self.knobs();
        let now = Instant::now();
        if let Some((until, retry_after)) = k.throttled_until {
            if now < until {
                return Err(Refusal::Status(
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(retry_after),
                    "Too many requests. Please slow down.",
                ));
            }
        }
        if let Some((per_second, retry_after)) = k.rate_limit {
            while k
                .window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                k.window.pop_front();
            }
            if k.window.len() >= per_second as usize {
                return Err(Refusal::Status(
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(retry_after),
                    "Too many requests. Please slow down.",
                ));
            }
            k.window.push_back(now);
        }
        if is_write {
            if let Some((code, retry_after)) = k.fail_next_writes.pop_front() {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Err(Refusal::Status(status, retry_after, "Injected fault"));
            }
        }
        if !is_write {
            if let Some(code) = k.fail_next_reads.pop_front() {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Err(Refusal::Status(status, None, "Injected fault"));
            }
        }
        let mut rng = rand::rng();
        if k.error_rate > 0.0 && rng.random_bool(k.error_rate) {
            let status = [
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::GATEWAY_TIMEOUT,
            ][rng.random_range(0..3)];
            return Err(Refusal::Status(
                status,
                None,
                "Service temporarily unavailable",
            ));
        }
        if k.reset_rate > 0.0 && rng.random_bool(k.reset_rate) {
            return Err(Refusal::Reset);
        }
        let hang = (k.timeout_rate > 0.0 && rng.random_bool(k.timeout_rate)).then(|| {
            if k.hang.is_zero() {
                Duration::from_secs(60)
            } else {
                k.hang
            }
        });
        Ok(Admitted {
            latency: k.latency,
            hang,
        })
    }
}
