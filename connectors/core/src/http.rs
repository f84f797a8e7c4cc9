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

/// Largest vendor response body read before giving up.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

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
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .default_headers(settings.default_headers)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
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
        })
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
        let parsed = Url::parse(url)
            .map_err(|e| ConnectorError::InvalidResponse(format!("bad URL {url:?}: {e}")))?;
        if parsed.origin() != self.base.origin() {
            return Err(ConnectorError::InvalidResponse(format!(
                "refusing to send credentials to {}; the connection's host is {}",
                parsed.origin().ascii_serialization(),
                self.base.origin().ascii_serialization()
            )));
        }
        Ok(parsed)
    }

    /// Sends one request through the limiter and classifies the answer.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, ConnectorError> {
        let _permit = self.limiter.acquire().await;
        let mut request = self.client.request(method.clone(), url.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        tracing::debug!(%method, path = url.path(), "vendor call");
        let response = request.send().await.map_err(classify_transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(response).await?;
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

fn classify_transport(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::Timeout
    } else {
        ConnectorError::Transport(e.to_string())
    }
}

async fn read_limited(response: reqwest::Response) -> Result<Bytes, ConnectorError> {
    if response
        .content_length()
        .is_some_and(|n| n as usize > MAX_RESPONSE_BYTES)
    {
        return Err(ConnectorError::InvalidResponse(format!(
            "response larger than {MAX_RESPONSE_BYTES} bytes"
        )));
    }
    let mut response = response;
    let mut buf = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify_transport)? {
        if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ConnectorError::InvalidResponse(format!(
                "response larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// `Retry-After` as delta-seconds (the form both vendors use).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
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

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }
}
