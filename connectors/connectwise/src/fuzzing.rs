//! Entry points for the fuzz targets in `fuzz/` and the property tests in
//! `tests/proptest_hostile.rs`: the pure steps that turn what ConnectWise
//! (or whoever poses as it) sends into the model, callable without a
//! network. Each one runs the code the connector runs. Not a stable API.
//!
//! [`callback`] is `Connector::verify_webhook` with the signing key given
//! instead of fetched: everything before the fetch (parsing, the
//! allow-list) and after it (the signature, the company filter, the hint)
//! is the connector's own code; the fetcher's bounds are tested in
//! `keys_tests.rs`.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use psa_connector::http::HttpResponse;
use psa_connector::{ChangeHint, Comment, ConnectorError, Ticket, WebhookError, WebhookRequest};
use url::Url;

use crate::api::{CompanyInfo, CwBoard, CwNote, CwPriority, CwStatus, CwTicket};
use crate::webhook::{authenticated_hints, callback_credentials, key_digest, signature_ok};

/// A 200 answer carrying `body`, read as the HTTP client reads it.
fn answer(body: &[u8]) -> HttpResponse {
    HttpResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::copy_from_slice(body),
    }
}

/// Verifies a callback signed with `signing_key` (as served at an
/// allow-listed `key_url`) for the connection of `company_id`.
pub fn callback(
    request: &WebhookRequest,
    signing_key: &str,
    company_id: &str,
    key_hosts: &[String],
) -> Result<Vec<ChangeHint>, WebhookError> {
    let (parsed, signature, _key_url) = callback_credentials(request, "https", key_hosts)?;
    if !signature_ok(&key_digest(signing_key), &request.body, &signature) {
        return Err(WebhookError::Unauthorized("signature mismatch".into()));
    }
    let hints = authenticated_hints(&parsed, company_id);
    // The entity's conversion, as the connector runs it (caches aside).
    if !hints.is_empty() {
        let _ = crate::hint_detail::entity_ticket(&parsed).map(|t| t.into_ticket(false));
        let _ = crate::hint_detail::made_by(&parsed, |m| m == "bridgeapi");
    }
    Ok(hints)
}

/// A key endpoint's answer as the key digest, if it holds a key.
pub fn key_body(body: &[u8]) -> Option<[u8; 32]> {
    crate::keys::key_from_body(body)
}

/// A `callback_key_hosts` entry, normalised or refused.
pub fn key_host(raw: &str) -> Result<String, String> {
    crate::hosts::normalize_key_host(raw)
}

/// `GET service/tickets/{id}` as a ticket (`status_closed`: the cached
/// status says closed).
pub fn ticket(body: &[u8], status_closed: bool) -> Result<Ticket, ConnectorError> {
    let raw: CwTicket = answer(body).json()?;
    Ok(raw.into_ticket(status_closed))
}

/// One page of `service/tickets/{id}/notes` as comments.
pub fn notes(body: &[u8]) -> Result<Vec<Comment>, ConnectorError> {
    let notes: Vec<CwNote> = answer(body).json()?;
    Ok(crate::notes::comments_from(notes))
}

/// One page of a ticket list (the marker search) as tickets.
pub fn tickets(body: &[u8]) -> Result<Vec<Ticket>, ConnectorError> {
    let page: Vec<CwTicket> = answer(body).json()?;
    Ok(page.into_iter().map(|t| t.into_ticket(false)).collect())
}

/// Discovery answers: boards, one board's statuses, priorities (counts).
pub fn catalog(
    boards: &[u8],
    statuses: &[u8],
    priorities: &[u8],
) -> Result<(usize, usize, usize), ConnectorError> {
    let b: Vec<CwBoard> = answer(boards).json()?;
    let s: Vec<CwStatus> = answer(statuses).json()?;
    let p: Vec<CwPriority> = answer(priorities).json()?;
    Ok((b.len(), s.len(), p.len()))
}

/// A `Link` header's `rel="next"` target, and the page cap a `/count`
/// answer leads to.
pub fn paging(link: &[u8], count: &[u8]) -> (Option<String>, Option<usize>) {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(link) {
        headers.insert(http::header::LINK, value);
    }
    #[derive(serde::Deserialize)]
    struct Count {
        count: u64,
    }
    let cap = answer(count)
        .json::<Count>()
        .ok()
        .map(|c| crate::paging::page_limit(usize::try_from(c.count).unwrap_or(usize::MAX)));
    (crate::paging::next_link(&headers), cap)
}

/// `login/companyinfo` answered to a connection on `site`: the API root.
pub fn company_info(site: &Url, body: &[u8]) -> Result<Url, ConnectorError> {
    let info: CompanyInfo = answer(body).json()?;
    let codebase = info
        .codebase
        .ok_or_else(|| ConnectorError::InvalidResponse("companyinfo without Codebase".into()))?;
    let codebase = crate::settings::normalize_codebase(&codebase)?;
    let base = crate::discovery::api_base(site, info.site_url.as_deref());
    crate::discovery::api_root(&base, &codebase)
}

/// An error answer's message.
pub fn error(status: u16, body: &[u8]) -> String {
    crate::api::error_message(status, body)
}
