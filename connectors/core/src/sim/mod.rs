//! What every vendor simulator shares: request logging (so tests can count
//! writes and measure request rates), a request-rate ceiling answered with
//! 429 + `Retry-After`, fault knobs ([`faults`]: queued failures, error,
//! reset and timeout rates, throttling bursts, latency, and ambiguous writes:
//! applied by the vendor, then answered 503 or with a dropped connection), and
//! the webhooks it sends ([`outgoing`]). Vendor crates add this as an axum
//! middleware in front of their routes and supply their own error body shape.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

mod faults;
mod outgoing;

use faults::{Admitted, Refusal};
pub use outgoing::{send_webhook, send_webhook_status, Deliveries, WebhookDelivery};

/// Builds the vendor's error body for a status and message.
pub type ErrorBodyFn = fn(status: u16, message: &str) -> serde_json::Value;
/// Names the API user a request authenticates as (for per-user write counts).
pub type IdentifyFn = fn(&HeaderMap) -> Option<String>;

/// One request as the simulator saw it.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// When the request arrived.
    pub at: Instant,
    /// When its answer left (or the connection was dropped): `at..finished`
    /// is when the simulator was busy with it, latency included.
    pub finished: Instant,
    pub method: String,
    pub path: String,
    /// The status the client received; 0 when the connection was dropped
    /// without an answer.
    pub status: u16,
    pub user: Option<String>,
    /// Set when the write was applied but its answer replaced by this fault.
    pub ambiguous: Option<AmbiguousReply>,
}

/// How a write that the simulator applied is answered by the ambiguity knob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmbiguousReply {
    /// `503 Service Unavailable` instead of the real answer.
    Unavailable,
    /// The connection is closed without any answer (a timeout or reset, as
    /// the client sees it).
    Dropped,
    /// No answer until long after the client gave up (see
    /// [`SimControl::set_timeout_rate`]).
    TimedOut,
}

impl RequestRecord {
    /// A call that changes state (queries, searches (Jira's `search/jql` too)
    /// and counts are reads even when POSTed).
    pub fn is_write(&self) -> bool {
        self.method != "GET"
            && !self.path.ends_with("/query")
            && !self.path.ends_with("/search")
            && !self.path.ends_with("/search/jql")
            && !self.path.ends_with("/count")
    }

    /// The vendor applied this call (its client may not know: see [`Self::ambiguous`]).
    pub fn applied(&self) -> bool {
        self.ambiguous.is_some() || (self.status != 0 && self.status < 400)
    }
}

#[derive(Default)]
struct Knobs {
    latency: Duration,
    error_rate: f64,
    fail_next_writes: VecDeque<(u16, Option<u64>)>,
    /// Queued ambiguous answers, each for any write or for paths containing a fragment.
    ambiguous_next_writes: VecDeque<(AmbiguousReply, Option<String>)>,
    ambiguous_rate: f64,
    fail_next_reads: VecDeque<u16>,
    /// Every outgoing webhook and the status it got (0: no answer).
    webhook_log: Vec<WebhookDelivery>,
    /// Fraction of requests whose connection is reset before anything is applied.
    reset_rate: f64,
    /// Fraction of requests applied but answered only after `hang`.
    timeout_rate: f64,
    hang: Duration,
    /// Every request until this instant is answered 429 with this `Retry-After`.
    throttled_until: Option<(Instant, u64)>,
    rate_limit: Option<(u32, u64)>,
    window: VecDeque<Instant>,
    log: Vec<RequestRecord>,
    /// Calls in flight per API user, the most seen, and the ceiling (with its message).
    in_flight: HashMap<Option<String>, usize>,
    most_in_flight: HashMap<Option<String>, usize>,
    concurrency_limit: Option<(usize, &'static str)>,
}

/// Shared control panel of one simulator.
pub struct SimControl {
    knobs: Mutex<Knobs>,
    error_body: ErrorBodyFn,
    identify: IdentifyFn,
}

impl SimControl {
    pub fn new(error_body: ErrorBodyFn, identify: IdentifyFn) -> Arc<Self> {
        Arc::new(Self {
            knobs: Mutex::new(Knobs::default()),
            error_body,
            identify,
        })
    }

    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.knobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most calls one API user had in flight at once.
    pub fn most_in_flight(&self, user: &str) -> usize {
        self.knobs()
            .most_in_flight
            .get(&Some(user.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Counts a call in flight; returns the ceiling's message when it is exceeded.
    fn enter(&self, user: &Option<String>) -> Option<&'static str> {
        let mut k = self.knobs();
        let now = {
            let n = k.in_flight.entry(user.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let most = k.most_in_flight.entry(user.clone()).or_insert(0);
        *most = (*most).max(now);
        k.concurrency_limit
            .filter(|(limit, _)| now > *limit)
            .map(|(_, message)| message)
    }

    fn leave(&self, user: &Option<String>) {
        if let Some(n) = self.knobs().in_flight.get_mut(user) {
            *n = n.saturating_sub(1);
        }
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.knobs().log.clone()
    }

    /// How many requests arrived within `window` of now, counted without
    /// copying the log (a simulator asks this on every call: copying every
    /// request ever made each time made a long run quadratic). The log is
    /// in answer order, which is arrival order but for requests in flight
    /// together, so the count can differ from an exact one only by requests
    /// that arrived right at the window's edge.
    pub fn requests_within(&self, window: std::time::Duration) -> usize {
        let knobs = self.knobs();
        match Instant::now().checked_sub(window) {
            Some(since) => knobs.log.len() - knobs.log.partition_point(|r| r.at < since),
            None => knobs.log.len(),
        }
    }

    /// Write calls made by one API user that the vendor applied (including
    /// those answered ambiguously).
    pub fn writes_by(&self, user: &str) -> Vec<RequestRecord> {
        self.knobs()
            .log
            .iter()
            .filter(|r| r.is_write() && r.applied() && r.user.as_deref() == Some(user))
            .cloned()
            .collect()
    }

    /// The status every webhook this simulator sent got (0: no answer,
    /// e.g. the receiver was down).
    pub fn webhook_answers(&self) -> Vec<u16> {
        self.knobs().webhook_log.iter().map(|d| d.status).collect()
    }

    /// Every webhook this simulator sent, with the answer it got, in order.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.knobs().webhook_log.clone()
    }

    fn record_webhook(&self, delivery: WebhookDelivery) {
        self.knobs().webhook_log.push(delivery);
    }

    /// The most applied writes whose path contains `path_fragment` that the
    /// simulator was busy with at one instant (order tests: one ticket's
    /// writes must never overlap).
    pub fn most_concurrent_writes(&self, path_fragment: &str) -> usize {
        let writes: Vec<(Instant, Instant)> = self
            .knobs()
            .log
            .iter()
            .filter(|r| r.is_write() && r.path.contains(path_fragment))
            .map(|r| (r.at, r.finished))
            .collect();
        writes
            .iter()
            .map(|(start, _)| {
                writes
                    .iter()
                    .filter(|(s, f)| s <= start && start < f)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// The most requests (by `user`, or all) that arrived within any one-second window.
    pub fn max_requests_per_second(&self, user: Option<&str>) -> usize {
        self.max_requests_in_window(user, Duration::from_secs(1))
    }

    /// The most requests (by `user`, or all) that arrived within any `window`.
    pub fn max_requests_in_window(&self, user: Option<&str>, window: Duration) -> usize {
        let times: Vec<Instant> = self
            .knobs()
            .log
            .iter()
            .filter(|r| user.is_none() || r.user.as_deref() == user)
            .map(|r| r.at)
            .collect();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]) >= window {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }

    pub fn error_response(&self, status: StatusCode, message: &str) -> Response {
        let body = (self.error_body)(status.as_u16(), message);
        (status, axum::Json(body)).into_response()
    }

    fn record(&self, record: RequestRecord) {
        self.knobs().log.push(record);
    }
}

/// Ends a call's in-flight count however the request ends (also when dropped).
struct InFlight<'a>(&'a SimControl, Option<String>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.leave(&self.1);
    }
}

/// Axum middleware applying the knobs and logging every request.
pub async fn middleware(
    State(control): State<Arc<SimControl>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let at = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let user = (control.identify)(request.headers());
    let mut record = RequestRecord {
        at,
        finished: at,
        method,
        path,
        status: 0,
        user,
        ambiguous: None,
    };
    let over_limit = control.enter(&record.user);
    let in_flight = InFlight(&control, record.user.clone());
    let admitted = match over_limit {
        Some(message) => Err(Refusal::Status(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            message,
        )),
        None => control.admit(record.is_write()),
    };
    let response = match admitted {
        Err(Refusal::Reset) => {
            record.finished = Instant::now();
            control.record(record);
            return dropped_connection();
        }
        Err(Refusal::Status(status, retry_after, message)) => {
            let mut response = control.error_response(status, message);
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            response
        }
        Ok(Admitted { latency, hang }) => {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let response = next.run(request).await;
            if let Some(hang) = hang {
                // Applied; the answer comes long after the client gave up.
                if record.is_write() && response.status().is_success() {
                    record.ambiguous = Some(AmbiguousReply::TimedOut);
                }
                record.status = response.status().as_u16();
                record.finished = Instant::now();
                control.record(record);
                // Done as far as the vendor is concerned (its concurrency
                // count included); only the answer is late.
                drop(in_flight);
                tokio::time::sleep(hang).await;
                return response;
            }
            // The handler has applied the write; maybe lose its answer.
            let ambiguity = (record.is_write() && response.status().is_success())
                .then(|| control.take_ambiguity(&record.path))
                .flatten();
            match ambiguity {
                None => response,
                Some(reply) => {
                    record.ambiguous = Some(reply);
                    match reply {
                        AmbiguousReply::Unavailable => control.error_response(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "Service temporarily unavailable",
                        ),
                        AmbiguousReply::Dropped | AmbiguousReply::TimedOut => {
                            record.status = 0;
                            record.finished = Instant::now();
                            control.record(record);
                            return dropped_connection();
                        }
                    }
                }
            }
        }
    };
    record.status = response.status().as_u16();
    record.finished = Instant::now();
    control.record(record);
    response
}

/// A response whose body fails before anything is sent: hyper then closes
/// the connection without writing a status line, so the client sees the
/// connection end with no answer.
fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated dropped connection",
        ))
    });
    Response::new(Body::from_stream(failing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(method: &str, path: &str) -> RequestRecord {
        let now = Instant::now();
        RequestRecord {
            at: now,
            finished: now,
            method: method.into(),
            path: path.into(),
            status: 200,
            user: None,
            ambiguous: None,
        }
    }

    #[test]
    fn searches_posted_are_reads() {
        assert!(!record("POST", "/rest/api/3/search/jql").is_write());
        assert!(!record("POST", "/ATServicesRest/V1.0/Tickets/query").is_write());
        assert!(record("POST", "/rest/api/3/issue").is_write());
        assert!(record("POST", "/rest/api/3/issue/10200/transitions").is_write());
        assert!(!record("GET", "/rest/api/3/issue/10200").is_write());
    }

    /// Requests of the last hour are counted without copying the log, and
    /// older ones are left out.
    #[test]
    fn requests_within_counts_only_the_window() {
        let control = SimControl::new(|_, _| serde_json::Value::Null, |_| None);
        let Some(two_hours_ago) = Instant::now().checked_sub(Duration::from_secs(7200)) else {
            return; // the machine booted less than two hours ago
        };
        for _ in 0..3 {
            control.record(RequestRecord {
                at: two_hours_ago,
                ..record("GET", "/old")
            });
        }
        for _ in 0..2 {
            control.record(record("GET", "/new"));
        }
        assert_eq!(control.requests_within(Duration::from_secs(3600)), 2);
        assert_eq!(control.requests_within(Duration::from_secs(3 * 3600)), 5);
        assert_eq!(control.requests().len(), 5);
    }
}
