//! Callback signing keys: fetched from an (already allow-listed)
//! `Metadata.key_url` before the callback is authenticated, so this is the
//! part an unauthenticated sender can drive. Bounded on every axis: a few
//! fetches in flight (over the cap → `Unavailable` at once), a short negative
//! cache for URLs that failed, a bounded key cache that evicts one entry (the
//! least recently used), a cached key fetched again after a signature
//! mismatch (key rotation) at most once per URL per [`REFETCH_INTERVAL`], and
//! errors that tell the caller nothing about the key endpoint (details go to
//! the log).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use psa_connector::http::read_limited;
use psa_connector::{ConnectorError, WebhookError};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use url::Url;

use crate::webhook::key_digest;

const KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_KEY_BODY: usize = 64 * 1024;
/// Signing keys kept (one per `key_url`).
pub(crate) const MAX_CACHED_KEYS: usize = 256;
/// URLs remembered as failed.
pub(crate) const MAX_FAILED_URLS: usize = 1024;
/// How long a failed `key_url` is answered from memory.
pub(crate) const FAILURE_TTL: Duration = Duration::from_secs(30);
/// Key fetches in flight at once; more are refused with `Unavailable`.
pub(crate) const MAX_FETCHES_IN_FLIGHT: usize = 4;
/// A cached key is fetched again (a signature did not verify with it: the
/// key may have been rotated) at most once per `key_url` in this time, so
/// forged signatures cannot turn into a stream of key fetches.
pub(crate) const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// What the caller is told (never the key endpoint's status, body or host).
const NOT_FOUND: &str = "signing key not found at key_url";
const UNAVAILABLE: &str = "signing key could not be fetched; try again later";
const BUSY: &str = "too many signing key fetches in progress; try again later";

/// The time source (a manual one in tests).
pub(crate) type Now = Arc<dyn Fn() -> Instant + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// The endpoint said the key does not exist (4xx): 401.
    NotFound,
    /// The endpoint could not be reached or answered nonsense: 503.
    Unavailable,
}

impl Failure {
    fn error(self) -> WebhookError {
        match self {
            Failure::NotFound => WebhookError::Unauthorized(NOT_FOUND.into()),
            Failure::Unavailable => WebhookError::Unavailable(UNAVAILABLE.into()),
        }
    }
}

/// One cached key.
struct Cached {
    digest: [u8; 32],
    /// Cache tick of the last use (for LRU eviction).
    used: u64,
    /// When it was last fetched again after a mismatch.
    refetched: Option<Instant>,
}

#[derive(Default)]
struct Cache {
    /// url → key.
    keys: HashMap<String, Cached>,
    /// url → (failed until, how).
    failed: HashMap<String, (Instant, Failure)>,
    tick: u64,
}

impl Cache {
    fn key(&mut self, url: &str) -> Option<[u8; 32]> {
        self.tick += 1;
        let tick = self.tick;
        self.keys.get_mut(url).map(|cached| {
            cached.used = tick;
            cached.digest
        })
    }

    fn failure(&mut self, url: &str, now: Instant) -> Option<Failure> {
        match self.failed.get(url) {
            Some((until, how)) if *until > now => Some(*how),
            Some(_) => {
                self.failed.remove(url);
                None
            }
            None => None,
        }
    }

    /// Adds (or replaces) a key, evicting the least recently used one when
    /// full.
    fn insert_key(&mut self, url: &str, key: [u8; 32], refetched: Option<Instant>) {
        if !self.keys.contains_key(url) && self.keys.len() >= MAX_CACHED_KEYS {
            if let Some(oldest) = self
                .keys
                .iter()
                .min_by_key(|(_, cached)| cached.used)
                .map(|(u, _)| u.clone())
            {
                self.keys.remove(&oldest);
            }
        }
        self.tick += 1;
        let cached = Cached {
            digest: key,
            used: self.tick,
            refetched,
        };
        self.keys.insert(url.to_string(), cached);
        self.failed.remove(url);
    }

    /// Remembers a failure, dropping expired entries, then the soonest to expire.
    fn insert_failure(&mut self, url: &str, how: Failure, now: Instant) {
        if !self.failed.contains_key(url) && self.failed.len() >= MAX_FAILED_URLS {
            self.failed.retain(|_, (until, _)| *until > now);
            if self.failed.len() >= MAX_FAILED_URLS {
                if let Some(soonest) = self
                    .failed
                    .iter()
                    .min_by_key(|(_, (until, _))| *until)
                    .map(|(u, _)| u.clone())
                {
                    self.failed.remove(&soonest);
                }
            }
        }
        self.failed
            .insert(url.to_string(), (now + FAILURE_TTL, how));
    }
}

/// A signing key and where it came from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key {
    pub digest: [u8; 32],
    /// From the cache (it may be stale), not fetched for this call.
    pub cached: bool,
}

/// What [`KeyFetcher::refetch`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refetch {
    /// A key other than the stale one: verify again with it.
    Changed([u8; 32]),
    /// The endpoint still serves the same key: the signature is wrong.
    Unchanged,
    /// Fetched again too recently; not fetched.
    TooSoon,
}

/// Fetches and caches callback signing keys (as SHA-256 digests) by URL.
/// Uses its own plain client: no credentials ever go to a key URL.
pub(crate) struct KeyFetcher {
    client: reqwest::Client,
    /// The connection's rate limiter: ConnectWise counts a key fetch like
    /// any other call (one past the limit was a 429 right after a restart).
    limiter: Option<psa_connector::RateLimiter>,
    cache: Mutex<Cache>,
    in_flight: Semaphore,
    now: Now,
    /// `https`, plus the site's own scheme (plain http only for a plain-http site).
    pub(crate) site_scheme: String,
}

impl KeyFetcher {
    pub(crate) fn new(site_scheme: String) -> Result<Self, ConnectorError> {
        Self::with_clock(site_scheme, Arc::new(Instant::now))
    }

    pub(crate) fn with_clock(site_scheme: String, now: Now) -> Result<Self, ConnectorError> {
        let client = psa_connector::http::client_builder()
            .timeout(KEY_FETCH_TIMEOUT)
            .build()
            .map_err(|e| ConnectorError::Config(format!("callback key client: {e}")))?;
        Ok(Self {
            client,
            limiter: None,
            cache: Mutex::new(Cache::default()),
            in_flight: Semaphore::new(MAX_FETCHES_IN_FLIGHT),
            now,
            site_scheme,
        })
    }

    /// Fetches wait on `limiter` (the connection's) like its other calls.
    pub(crate) fn with_limiter(mut self, limiter: psa_connector::RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key digest for `url`: cached, remembered as failed, or fetched.
    pub(crate) async fn key(&self, url: &Url) -> Result<Key, WebhookError> {
        let now = (self.now)();
        {
            let mut cache = self.cache();
            if let Some(digest) = cache.key(url.as_str()) {
                return Ok(Key {
                    digest,
                    cached: true,
                });
            }
            if let Some(how) = cache.failure(url.as_str(), now) {
                tracing::debug!("callback key_url failed recently; refused from memory");
                return Err(how.error());
            }
        }
        let Ok(_permit) = self.in_flight.try_acquire() else {
            tracing::warn!("callback signing key fetches at their cap; answering 503");
            return Err(WebhookError::Unavailable(BUSY.into()));
        };
        match self.fetch(url).await {
            Ok(digest) => {
                self.cache().insert_key(url.as_str(), digest, None);
                Ok(Key {
                    digest,
                    cached: false,
                })
            }
            Err(how) => {
                self.cache().insert_failure(url.as_str(), how, (self.now)());
                Err(how.error())
            }
        }
    }

    /// Fetches `url` again after a signature did not verify with the cached
    /// key `stale` (ConnectWise may have rotated it), at most once per URL
    /// per [`REFETCH_INTERVAL`]. A failed fetch keeps the cached key.
    pub(crate) async fn refetch(
        &self,
        url: &Url,
        stale: &[u8; 32],
    ) -> Result<Refetch, WebhookError> {
        let now = (self.now)();
        let _permit = {
            let mut cache = self.cache();
            let claimed = match cache.keys.get_mut(url.as_str()) {
                // Another callback fetched the new key meanwhile.
                Some(cached) if !bool::from(cached.digest.ct_eq(stale)) => {
                    return Ok(Refetch::Changed(cached.digest))
                }
                Some(cached)
                    if cached
                        .refetched
                        .is_some_and(|at| now.saturating_duration_since(at) < REFETCH_INTERVAL) =>
                {
                    tracing::debug!("callback signing key fetched again recently; not again");
                    return Ok(Refetch::TooSoon);
                }
                // Claimed before the fetch: concurrent mismatches do not all fetch.
                Some(cached) => Some(cached.refetched.replace(now)),
                None => None,
            };
            match self.in_flight.try_acquire() {
                Ok(permit) => permit,
                Err(_) => {
                    // Not fetched: the claim is given back.
                    if let (Some(previous), Some(cached)) =
                        (claimed, cache.keys.get_mut(url.as_str()))
                    {
                        cached.refetched = previous;
                    }
                    tracing::warn!("callback signing key fetches at their cap; answering 503");
                    return Err(WebhookError::Unavailable(BUSY.into()));
                }
            }
        };
        match self.fetch(url).await {
            Ok(digest) if bool::from(digest.ct_eq(stale)) => Ok(Refetch::Unchanged),
            Ok(digest) => {
                tracing::info!(
                    host = url.host_str().unwrap_or_default(),
                    "callback signing key changed at its key_url; using the new key"
                );
                self.cache().insert_key(url.as_str(), digest, Some(now));
                Ok(Refetch::Changed(digest))
            }
            Err(how) => Err(how.error()),
        }
    }

    /// One fetch; details are logged here and never returned.
    async fn fetch(&self, url: &Url) -> Result<[u8; 32], Failure> {
        let host = url.host_str().unwrap_or_default();
        let _permit = match &self.limiter {
            Some(limiter) => Some(limiter.acquire().await),
            None => None,
        };
        let response = self.client.get(url.clone()).send().await.map_err(|e| {
            let error = psa_connector::http::transport_message(e);
            tracing::warn!(host, error, "callback signing key fetch failed");
            Failure::Unavailable
        })?;
        let status = response.status();
        if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            tracing::warn!(host, %status, "callback signing key not found");
            return Err(Failure::NotFound);
        }
        if !status.is_success() {
            tracing::warn!(host, %status, "callback signing key endpoint failed");
            return Err(Failure::Unavailable);
        }
        let body = read_limited(response, MAX_KEY_BODY).await.map_err(|e| {
            tracing::warn!(host, error = %e, "callback signing key read failed");
            Failure::Unavailable
        })?;
        key_from_body(&body).ok_or_else(|| {
            tracing::warn!(host, "callback signing key body without signing_key");
            Failure::Unavailable
        })
    }
}

/// The key digest of a key endpoint's answer `{"signing_key": "…"}`.
pub(crate) fn key_from_body(body: &[u8]) -> Option<[u8; 32]> {
    #[derive(Deserialize)]
    struct KeyBody {
        signing_key: String,
    }
    match serde_json::from_slice::<KeyBody>(body) {
        Ok(parsed) if !parsed.signing_key.is_empty() => Some(key_digest(&parsed.signing_key)),
        _ => None,
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
