//! The admin listener's gate, in front of every route:
//!
//! - `Host` must name this listener: `localhost`, the listener's own IP (any
//!   IP literal when bound to `0.0.0.0`/`::`), or a name in
//!   `daemon.admin_hosts`; anything else gets 421, so a web page whose DNS name
//!   was rebound to 127.0.0.1 cannot talk to the API.
//! - Every path needs `Authorization: Bearer <token>` (401 with a `Bearer`
//!   challenge otherwise) unless [`crate::admin::ROUTES`] marks it open, so
//!   a route added later is covered by default. Compared in constant time
//!   over SHA-256 digests (length hidden too). Cookies are never consulted.
//! - Requests that change state (anything but GET/HEAD) are refused when they
//!   carry an `Origin` header naming another origin than this listener (403:
//!   the CLI sends none; the dashboard's own page sends this listener's) or a
//!   body type other than JSON (415: no cross-site HTML form posts).
//!
//! `/healthz`, `/metrics` and `/api/v1/openapi.json` need no token (states,
//! counts and the API's description; no ticket contents or secrets; see
//! their reasons in the route table) but still pass the Host check.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What the gate checks against.
#[derive(Clone)]
pub struct AdminGuard {
    digest: Arc<[u8; 32]>,
    listen: SocketAddr,
    hosts: Arc<Vec<String>>,
}

impl AdminGuard {
    /// `listen` is the admin listener's bound address; `hosts` extra allowed names.
    pub fn new(token: &str, listen: SocketAddr, hosts: &[String]) -> Self {
        Self {
            digest: Arc::new(Sha256::digest(token.as_bytes()).into()),
            listen,
            hosts: Arc::new(
                hosts
                    .iter()
                    .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                    .collect(),
            ),
        }
    }

    /// Whether the `Host` value names this listener.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || self.hosts.contains(&name) {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => {
                let own = self.listen.ip();
                own.is_unspecified() || ip == own || (ip.is_loopback() && own.is_loopback())
            }
            Err(_) => false,
        }
    }

    /// Whether `headers` carry the right bearer token.
    pub fn token_matches(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, given)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        given.ct_eq(self.digest.as_ref()).into()
    }
}

/// The host part of a `Host` value (`name`, `name:port`, `[v6]:port`).
fn host_name(host: &str) -> Option<&str> {
    let host = host.trim();
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if let Some(rest) = host.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        return (after.is_empty() || after.strip_prefix(':').is_some_and(digits)).then_some(name);
    }
    match host.split_once(':') {
        None if !host.is_empty() => Some(host),
        Some((name, port)) if !name.is_empty() && digits(port) => Some(name),
        _ => None,
    }
}

/// Whether an `Origin` value is this listener's own (`http(s)://` + the
/// request's `Host`, already checked): the dashboard's page posting to its
/// own API. Any other origin, `null` included, is cross-site.
fn same_origin(origin: &str, host: &str) -> bool {
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| !host.is_empty() && a.eq_ignore_ascii_case(host.trim()))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn gate(State(guard): State<AdminGuard>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    if !host.as_deref().is_some_and(|h| guard.host_allowed(h)) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "the admin API answers to localhost and its own address only (see daemon.admin_hosts)",
        );
    }
    let path = request.uri().path();
    if !crate::admin::is_open(path) {
        if !guard.token_matches(headers) {
            let mut response = refuse(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (the CLI reads it from <store_path>.token or daemon.admin_token)",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"psa-bridge admin\""),
            );
            return response;
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let origin = headers
                .get(header::ORIGIN)
                .map(|v| v.to_str().unwrap_or(""));
            if origin.is_some_and(|o| !same_origin(o, host.as_deref().unwrap_or(""))) {
                return refuse(StatusCode::FORBIDDEN, "cross-origin requests are refused");
            }
            let json_or_none = headers
                .get(header::CONTENT_TYPE)
                .map(|v| {
                    v.to_str()
                        .unwrap_or_default()
                        .split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .eq_ignore_ascii_case("application/json")
                })
                .unwrap_or(true);
            if !json_or_none {
                return refuse(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send no body or application/json",
                );
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(listen: &str) -> AdminGuard {
        AdminGuard::new(
            "0123456789abcdef0123",
            listen.parse().unwrap(),
            &["Bridge-Admin.internal".to_string()],
        )
    }

    #[test]
    fn host_names_this_listener_only() {
        let g = guard("127.0.0.1:9180");
        for ok in [
            "127.0.0.1:9180",
            "127.0.0.1",
            "localhost:9180",
            "LOCALHOST",
            "[::1]:9180",
            "bridge-admin.internal:9180",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example:9180",
            "localhost.evil.example",
            "10.0.0.5:9180",
            "",
            "127.0.0.1:x",
            "[::1",
            "a:b:c",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        let any = guard("0.0.0.0:9180");
        assert!(any.host_allowed("10.0.0.5:9180"));
        assert!(!any.host_allowed("rebound.evil.example:9180"));
    }

    /// The dashboard's Retry button: Chromium sends `Origin` on every POST,
    /// even to its own origin; only another origin is refused.
    #[test]
    fn only_this_listeners_own_origin_may_post() {
        let host = "127.0.0.1:9180";
        assert!(same_origin("http://127.0.0.1:9180", host));
        assert!(same_origin("https://LOCALHOST:9180", "localhost:9180"));
        for other in [
            "https://evil.example",
            "http://127.0.0.1:9181",
            "http://127.0.0.1",
            "null",
            "",
            "http://127.0.0.1:9180/",
            "file://127.0.0.1:9180",
        ] {
            assert!(!same_origin(other, host), "{other}");
        }
        assert!(!same_origin("http://", ""));
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        let g = guard("127.0.0.1:9180");
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            g.token_matches(&h)
        };
        assert!(with("Bearer 0123456789abcdef0123"));
        assert!(with("bearer 0123456789abcdef0123"));
        assert!(!with("Bearer 0123456789abcdef012"));
        assert!(!with("Bearer 0123456789abcdef01234"));
        assert!(!with("Basic 0123456789abcdef0123"));
        assert!(!with("0123456789abcdef0123"));
        assert!(!g.token_matches(&HeaderMap::new()));
    }
}
