//! The HTTP client every connector uses: rate-limited, time-limited,
//! size-limited, pinned to one origin, with vendor error bodies turned into
//! [`ConnectorError`]s that say whether to retry.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::ConnectorError;
use crate::limits::{RateLimiter, RateLimits};
use crate::stats::{ApiStats, CallKind, CallOutcome};
pub use crate::transport::{check_scheme, client_builder, transport_message};

/// Largest vendor response body read before giving up.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Most bytes of vendor answers one paged listing reads, all its pages
/// together. The page caps bound how many pages are read and
/// [`MAX_RESPONSE_BYTES`] each page, but a vendor that answers every page
/// near that size (with fresh `next` links and a huge count) would still
/// make a listing hold gigabytes; this bounds the listing itself. A real
/// listing is far below it (a ConnectWise page of 1,000 full tickets is a
/// few MB).
pub const MAX_LISTING_BYTES: usize = 128 * 1024 * 1024;

/// The bytes a paged listing has read, checked against a budget
/// ([`MAX_LISTING_BYTES`] unless told otherwise).
#[derive(Debug)]
pub struct ListingBudget {
    used: usize,
    max: usize,
}

impl Default for ListingBudget {
    fn default() -> Self {
        Self::with_max(MAX_LISTING_BYTES)
    }
}

impl ListingBudget {
    pub fn with_max(max: usize) -> Self {
        Self { used: 0, max }
    }

    /// Counts one page's body of `bytes` against the budget: an error (a
    /// permanent `InvalidResponse`) once the listing's pages together pass it.
    pub fn take(&mut self, what: &str, bytes: usize) -> Result<(), ConnectorError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.max {
            return Err(ConnectorError::InvalidResponse(format!(
                "{what}: the pages of this listing together pass {} bytes; refusing to read more",
                self.max
            )));
        }
        Ok(())
    }
}

/// Turns a vendor error body into the vendor's own message.
pub type ErrorMessageFn = fn(status: u16, body: &[u8]) -> String;

/// Settings for one connection's client.
pub struct HttpSettings {
    pub base_url: Url,
    pub default_headers: HeaderMap,
    pub limits: RateLimits,
    pub timeout: Duration,
    /// Wait used when a 429 carries no `Retry-After` (Autotask: 60 s).
    pub default_retry_after: Duration,
    pub error_message: ErrorMessageFn,
}

/// A vendor answer with a success status.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ConnectorError::InvalidResponse(format!("{e} in {}", snippet(&self.body))))
    }
}

/// Rate-limited client for one connection.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    base: Url,
    limiter: RateLimiter,
    default_retry_after: Duration,
    error_message: ErrorMessageFn,
    stats: ApiStats,
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> Result<Self, ConnectorError> {
        check_scheme("base URL", &settings.base_url)?;
        let client = client_builder()
            .default_headers(settings.default_headers)
            .timeout(settings.timeout)
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {e}")))?;
        let mut base = settings.base_url;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self {
            client,
            base,
            limiter: RateLimiter::new(&settings.limits),
            default_retry_after: settings.default_retry_after,
            error_message: settings.error_message,
            stats: ApiStats::new(),
        })
    }

    /// Counts this client's calls in `stats` (a connector that builds its
    /// client late keeps the counters from the start).
    pub fn with_stats(mut self, stats: ApiStats) -> Self {
        self.stats = stats;
        self
    }

    /// This connection's call counters (shared by every clone of the client).
    /// The connection's limiter, for calls to the vendor made with another
    /// client (ConnectWise's callback signing keys): the vendor counts them too.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    pub fn stats(&self) -> &ApiStats {
        &self.stats
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Resolves a path relative to the base URL.
    pub fn url(&self, path: &str) -> Result<Url, ConnectorError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ConnectorError::Config(format!("bad path {path:?}: {e}")))
    }

    /// Refuses URLs (e.g. a vendor's `nextPageUrl`) on another origin, so
    /// credentials never leave the configured host.
    pub fn same_origin(&self, url: &str) -> Result<Url, ConnectorError> {
        same_origin_as(&self.base, url)
    }

    /// Sends one request through the limiter and classifies the answer.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, ConnectorError> {
        self.send_with_headers(method, url, body, HeaderMap::new())
            .await
    }

    /// [`Self::send`] with per-request headers added to the defaults (an
    /// OAuth bearer token that changes while the client lives). Mark secret
    /// values sensitive.
    ///
    /// A `GET` that fails transiently (a 502, 503 or 504, a dropped or reset
    /// connection, a timeout) is sent again at once, up to twice more
    /// (100–400 ms apart, each through the limiter): reading twice changes
    /// nothing, and a step of several calls (a Jira transition path, a marker
    /// look-up before a write) then survives a flaky vendor instead of
    /// starting over on the retry schedule. Other methods are sent once: a
    /// write whose answer was lost is the caller's to look up. A 429 is
    /// never repeated here (its `Retry-After` is the scheduler's).
    pub async fn send_with_headers(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        headers: HeaderMap,
    ) -> Result<HttpResponse, ConnectorError> {
        use backon::Retryable;
        if method != Method::GET {
            return self.send_once(method, url, body, headers).await;
        }
        let attempt = || self.send_once(method.clone(), url.clone(), body, headers.clone());
        attempt
            .retry(
                backon::ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(100))
                    .with_max_delay(Duration::from_millis(400))
                    .with_jitter()
                    .with_max_times(READ_RETRIES),
            )
            .when(is_transient_read_failure)
            .await
    }

    async fn send_once(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        headers: HeaderMap,
    ) -> Result<HttpResponse, ConnectorError> {
        let waiting = tokio::time::Instant::now();
        let _permit = self.limiter.acquire().await;
        let kind = if method == Method::GET {
            CallKind::Read
        } else {
            CallKind::Write
        };
        self.stats.record_start(kind, waiting.elapsed());
        let result = self.call(method, url, body, headers).await;
        self.stats.record_outcome(match &result {
            Ok(_) => CallOutcome::Success,
            Err(ConnectorError::Http { status: 429, .. }) => CallOutcome::Throttled,
            // The vendor answered about this request; a 401 (credentials)
            // and a 408 (the vendor gave up) say more than that.
            Err(ConnectorError::Http { status, .. })
                if (400..500).contains(status) && !matches!(status, 401 | 408) =>
            {
                CallOutcome::Refused
            }
            Err(_) => CallOutcome::Failed,
        });
        result
    }

    /// One request and its classified answer (the limiter already passed).
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        headers: HeaderMap,
    ) -> Result<HttpResponse, ConnectorError> {
        let mut request = self
            .client
            .request(method.clone(), url.clone())
            .headers(headers);
        if let Some(body) = body {
            request = request.json(body);
        }
        tracing::debug!(%method, path = url.path(), "vendor call");
        let response = request.send().await.map_err(classify_transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(response, MAX_RESPONSE_BYTES).await?;
        if status.is_success() {
            return Ok(HttpResponse {
                status,
                headers,
                body,
            });
        }
        let retry_after = parse_retry_after(&headers)
            .or((status == StatusCode::TOO_MANY_REQUESTS).then_some(self.default_retry_after));
        Err(ConnectorError::Http {
            status: status.as_u16(),
            message: (self.error_message)(status.as_u16(), &body),
            retry_after,
        })
    }

    pub async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ConnectorError> {
        self.send(method, url, body).await?.json()
    }
}

/// Parses `url` and refuses it unless it is on `base`'s origin (for a
/// connector whose API root is not the client's base, e.g. a discovered host).
pub fn same_origin_as(base: &Url, url: &str) -> Result<Url, ConnectorError> {
    let parsed = Url::parse(url)
        .map_err(|e| ConnectorError::InvalidResponse(format!("bad URL {url:?}: {e}")))?;
    if parsed.origin() != base.origin() {
        return Err(ConnectorError::InvalidResponse(format!(
            "refusing to send credentials to {}; the connection's host is {}",
            parsed.origin().ascii_serialization(),
            base.origin().ascii_serialization()
        )));
    }
    Ok(parsed)
}

/// How many more times a `GET` that failed transiently is sent at once.
pub const READ_RETRIES: usize = 2;

/// A read worth sending again at once: a gateway error or an answer lost
/// on the way (never a 429, nor a 500, which some vendors use for
/// permanent refusals).
fn is_transient_read_failure(error: &ConnectorError) -> bool {
    match error {
        ConnectorError::Http { status, .. } => matches!(status, 502..=504),
        ConnectorError::Transport(_) | ConnectorError::Timeout => true,
        _ => false,
    }
}

fn classify_transport(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::Timeout
    } else {
        ConnectorError::Transport(transport_message(e))
    }
}

/// Reads a response body of at most `max` bytes: refused as soon as the
/// declared length or the bytes received pass it, so an endless or huge
/// answer is never read whole. Transport errors name no URL (a query string
/// may carry a user name).
pub async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Bytes, ConnectorError> {
    let too_large = || ConnectorError::InvalidResponse(format!("response larger than {max} bytes"));
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify_transport)? {
        if buf.len() + chunk.len() > max {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// The longest wait a vendor's `Retry-After` can impose. Larger values (or
/// dates further ahead) are cut to this, so a hostile or broken header cannot
/// park a connection for years or overflow the time arithmetic downstream.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// `Retry-After` as delta-seconds (the form both vendors use) or an HTTP-date,
/// capped at [`MAX_RETRY_AFTER`]; `None` when absent or unreadable.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after_at(headers, chrono::Utc::now())
}

/// [`parse_retry_after`] relative to `now` (an HTTP-date in the past is zero).
pub fn parse_retry_after_at(
    headers: &HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: a number of seconds, however many digits it has.
        value
            .parse::<u64>()
            .map(Duration::from_secs)
            .unwrap_or(MAX_RETRY_AFTER)
    } else {
        let at = http_date(value)?;
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, or the obsolete RFC 850 and
/// asctime forms recipients must still accept. Always GMT.
fn http_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&chrono::Utc));
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
        .map(|naive| naive.and_utc())
}

/// The first 200 characters of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, value.parse().unwrap());
        h
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        "2026-11-25T14:00:00Z".parse().unwrap()
    }

    fn at(value: &str) -> Option<Duration> {
        parse_retry_after_at(&header(value), now())
    }

    #[test]
    fn a_listing_budget_refuses_the_page_that_passes_it() {
        let mut budget = ListingBudget::with_max(10);
        budget.take("list", 6).unwrap();
        budget.take("list", 4).unwrap();
        let err = budget.take("list", 1).unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidResponse(ref m) if m.contains("pass 10 bytes")),
            "{err}"
        );
        assert!(!err.is_retryable());
        // No overflow however much is claimed.
        let mut budget = ListingBudget::default();
        assert!(budget.take("list", usize::MAX).is_err());
        assert!(budget.take("list", usize::MAX).is_err());
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(at("7"), Some(Duration::from_secs(7)));
        assert_eq!(at(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn huge_retry_after_is_capped() {
        assert_eq!(at("86400"), Some(MAX_RETRY_AFTER));
        assert_eq!(at(&u64::MAX.to_string()), Some(MAX_RETRY_AFTER));
        // More digits than a u64 holds.
        assert_eq!(at("99999999999999999999999999"), Some(MAX_RETRY_AFTER));
        // The capped wait can be added to a timestamp without overflow.
        let wait = chrono::TimeDelta::from_std(at("18446744073709551615").unwrap()).unwrap();
        assert!(now().checked_add_signed(wait).is_some());
    }

    #[test]
    fn retry_after_http_dates() {
        assert_eq!(
            at("Wed, 25 Nov 2026 14:02:00 GMT"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            at("Wednesday, 25-Nov-26 14:00:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(at("Wed Nov 25 14:00:05 2026"), Some(Duration::from_secs(5)));
        // In the past: retry now.
        assert_eq!(at("Tue, 24 Nov 2026 14:00:00 GMT"), Some(Duration::ZERO));
        // Years ahead: capped.
        assert_eq!(at("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn garbage_and_negative_retry_after_are_ignored() {
        for value in [
            "soon",
            "-5",
            "1.5",
            "1e9",
            "",
            "Wed, 99 Nov 2026 14:00:00 GMT",
        ] {
            assert_eq!(at(value), None, "{value:?}");
        }
    }
}
