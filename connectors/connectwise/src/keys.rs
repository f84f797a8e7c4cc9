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
        let client = reqwest::Client::builder()
            .timeout(KEY_FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConnectorError::Config(format!("callback key client: {e}")))?;
        Ok(Self {
            client,
            cache: Mutex::new(Cache::default()),
            in_flight: Semaphore::new(MAX_FETCHES_IN_FLIGHT),
            now,
            site_scheme,
        })
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
        let Ok(_permit) = self.in_flight.try_acquire() else {
            tracing::warn!("callback signing key fetches at their cap; answering 503");
            return Err(WebhookError::Unavailable(BUSY.into()));
        };
        let now = (self.now)();
        {
            let mut cache = self.cache();
            if let Some(cached) = cache.keys.get_mut(url.as_str()) {
                if cached.digest != *stale {
                    // Another callback fetched the new key meanwhile.
                    return Ok(Refetch::Changed(cached.digest));
                }
                if cached
                    .refetched
                    .is_some_and(|at| now.saturating_duration_since(at) < REFETCH_INTERVAL)
                {
                    tracing::debug!("callback signing key fetched again recently; not again");
                    return Ok(Refetch::TooSoon);
                }
                // Claimed before the fetch: concurrent mismatches do not all fetch.
                cached.refetched = Some(now);
            }
        }
        match self.fetch(url).await {
            Ok(digest) if digest == *stale => Ok(Refetch::Unchanged),
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
        let response = self.client.get(url.clone()).send().await.map_err(|e| {
            tracing::warn!(host, error = %e, "callback signing key fetch failed");
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
        #[derive(Deserialize)]
        struct KeyBody {
            signing_key: String,
        }
        match serde_json::from_slice::<KeyBody>(&body) {
            Ok(parsed) if !parsed.signing_key.is_empty() => Ok(key_digest(&parsed.signing_key)),
            _ => {
                tracing::warn!(host, "callback signing key body without signing_key");
                Err(Failure::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    fn url(n: usize) -> String {
        format!("https://api-na.myconnectwise.net/k?id={n}")
    }

    #[test]
    fn a_full_cache_evicts_only_the_least_recently_used_key() {
        let mut cache = Cache::default();
        for n in 0..MAX_CACHED_KEYS {
            cache.insert_key(&url(n), [n as u8; 32], None);
        }
        // Use key 0 so key 1 becomes the least recently used.
        assert!(cache.key(&url(0)).is_some());
        cache.insert_key(&url(9999), [1; 32], None);
        assert_eq!(cache.keys.len(), MAX_CACHED_KEYS);
        assert!(cache.key(&url(1)).is_none(), "the LRU key is evicted");
        for n in (0..MAX_CACHED_KEYS).filter(|n| *n != 1) {
            assert!(cache.key(&url(n)).is_some(), "key {n} kept");
        }
    }

    #[test]
    fn failures_are_bounded() {
        let mut cache = Cache::default();
        let now = Instant::now();
        for n in 0..MAX_FAILED_URLS + 10 {
            cache.insert_failure(&url(n), Failure::NotFound, now);
        }
        assert_eq!(cache.failed.len(), MAX_FAILED_URLS);
        assert!(cache.failure(&url(MAX_FAILED_URLS + 9), now).is_some());
    }

    /// A key endpoint serving `signing_key` = the current value of `key`
    /// (changed by the test: a rotation), counting requests.
    async fn rotating_key_server() -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let key = Arc::new(AtomicUsize::new(1));
        let (seen, current) = (count.clone(), key.clone());
        let app = axum::Router::new().fallback(move || {
            let (seen, current) = (seen.clone(), current.clone());
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                let key = format!("key-{}", current.load(Ordering::SeqCst));
                axum::Json(serde_json::json!({ "signing_key": key }))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (port, count, key)
    }

    #[tokio::test]
    async fn a_cached_key_is_fetched_again_at_most_once_per_interval() {
        let (port, count, key) = rotating_key_server().await;
        let start = Instant::now();
        let offset_ms = Arc::new(AtomicU64::new(0));
        let clock = offset_ms.clone();
        let now: Now =
            Arc::new(move || start + Duration::from_millis(clock.load(Ordering::SeqCst)));
        let fetcher = KeyFetcher::with_clock("http".into(), now).unwrap();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/k?id=1")).unwrap();
        let digest = |n: usize| key_digest(&format!("key-{n}"));

        let first = fetcher.key(&url).await.unwrap();
        assert!(!first.cached);
        assert_eq!(first.digest, digest(1));
        // Same key at the endpoint: a wrong signature, not a rotation.
        assert_eq!(
            fetcher.refetch(&url, &digest(1)).await.unwrap(),
            Refetch::Unchanged
        );
        assert_eq!(count.load(Ordering::SeqCst), 2);

        // Rotated, but fetched again just now: not before the interval.
        key.store(2, Ordering::SeqCst);
        offset_ms.store(REFETCH_INTERVAL.as_millis() as u64 - 1, Ordering::SeqCst);
        assert_eq!(
            fetcher.refetch(&url, &digest(1)).await.unwrap(),
            Refetch::TooSoon
        );
        assert_eq!(count.load(Ordering::SeqCst), 2);

        offset_ms.store(REFETCH_INTERVAL.as_millis() as u64, Ordering::SeqCst);
        assert_eq!(
            fetcher.refetch(&url, &digest(1)).await.unwrap(),
            Refetch::Changed(digest(2))
        );
        assert_eq!(count.load(Ordering::SeqCst), 3);
        let cached = fetcher.key(&url).await.unwrap();
        assert!(cached.cached);
        assert_eq!(cached.digest, digest(2), "the new key replaced the old");
        // A caller still holding the old key gets the new one without a fetch.
        assert_eq!(
            fetcher.refetch(&url, &digest(1)).await.unwrap(),
            Refetch::Changed(digest(2))
        );
        // And the new key is not fetched again before the interval.
        key.store(3, Ordering::SeqCst);
        assert_eq!(
            fetcher.refetch(&url, &digest(2)).await.unwrap(),
            Refetch::TooSoon
        );
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }

    /// A key endpoint that answers 404 and counts requests.
    async fn missing_key_server() -> (u16, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        let app = axum::Router::new().fallback(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                (
                    http::StatusCode::NOT_FOUND,
                    "no such key on keyhost-internal-7",
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (port, count)
    }

    #[tokio::test]
    async fn a_failed_url_is_answered_from_memory_until_its_ttl_passes() {
        let (port, count) = missing_key_server().await;
        let start = Instant::now();
        let offset_ms = Arc::new(AtomicU64::new(0));
        let clock = offset_ms.clone();
        let now: Now =
            Arc::new(move || start + Duration::from_millis(clock.load(Ordering::SeqCst)));
        let fetcher = KeyFetcher::with_clock("http".into(), now).unwrap();
        let key_url = Url::parse(&format!("http://127.0.0.1:{port}/k?id=forged")).unwrap();
        for _ in 0..3 {
            match fetcher.key(&key_url).await {
                Err(WebhookError::Unauthorized(m)) => {
                    assert_eq!(m, NOT_FOUND);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(count.load(Ordering::SeqCst), 1, "one fetch, then memory");
        offset_ms.store(FAILURE_TTL.as_millis() as u64 - 1, Ordering::SeqCst);
        assert!(fetcher.key(&key_url).await.is_err());
        assert_eq!(count.load(Ordering::SeqCst), 1);
        offset_ms.store(FAILURE_TTL.as_millis() as u64 + 1, Ordering::SeqCst);
        assert!(fetcher.key(&key_url).await.is_err());
        assert_eq!(
            count.load(Ordering::SeqCst),
            2,
            "fetched again after the TTL"
        );
    }
}
