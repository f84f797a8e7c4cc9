//! Entry points for the fuzz targets in `fuzz/` and the property tests in
//! `tests/proptest_hostile.rs`: the pure steps that turn what a Jira site
//! answers into the model, callable without a network. Each one runs the
//! code the connector runs. Not a stable API.
//!
//! Webhooks need no entry point here: [`psa_connector::Connector::verify_webhook`]
//! on a [`JiraConnector`] does no network I/O ([`connector`] has a secret).

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use chrono::DateTime;
use http::{HeaderMap, StatusCode};
use psa_connector::http::{HttpResponse, ListingBudget};
use psa_connector::{ChangeHint, Comment, ConnectorError, Ticket};
use serde_json::Value;

use crate::{default_limits, JiraConnector, JiraSettings};

/// The secret of [`connector`]'s webhooks.
pub const WEBHOOK_SECRET: &str = "fuzz-webhook-secret";

/// The instant polling reads from (2026-11-19T11:00:00Z).
pub const SINCE: i64 = 1_795_086_000;

/// The most pages one `search/jql` walk reads.
pub const MAX_SEARCH_PAGES: usize = crate::search::MAX_PAGES;

/// The most pages one comment listing reads.
pub const MAX_COMMENT_PAGES: usize = crate::comments::MAX_PAGES;

/// A 200 answer carrying `body`, read as the HTTP client reads it.
fn answer(body: &[u8]) -> HttpResponse {
    HttpResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::copy_from_slice(body),
    }
}

/// A connector for project `HELP` whose webhooks are signed with
/// [`WEBHOOK_SECRET`].
pub fn connector() -> &'static JiraConnector {
    static CONNECTOR: OnceLock<JiraConnector> = OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let mut settings = JiraSettings::new(
            "https://fuzz.atlassian.example/",
            "fuzz@example.invalid",
            "token",
            "HELP",
        );
        settings.webhook_secret = Some(WEBHOOK_SECRET.into());
        match JiraConnector::new(settings, default_limits(), Duration::from_secs(1)) {
            Ok(c) => c,
            // Fixed, valid settings: cannot fail.
            Err(e) => unreachable!("fuzzing connector: {e}"),
        }
    })
}

/// `GET issue/{id}` as a ticket (no extra fields).
pub fn ticket(body: &[u8]) -> Result<Ticket, ConnectorError> {
    let bean: Value = answer(body).json()?;
    futures::executor::block_on(connector().to_ticket(&bean, &[]))
}

/// One comment page as comments (`desk`: a service desk project), and
/// whether the listing would read another page.
pub fn comments(body: &[u8], desk: bool) -> Result<(Vec<Comment>, bool), ConnectorError> {
    let mut raw = Vec::new();
    let more = crate::comments::read_page(&answer(body), &mut ListingBudget::default(), &mut raw)?;
    Ok((crate::comments::comments_from(raw, desk, false), more))
}

/// One `search/jql` page of a polling walk as change hints (polled since
/// [`SINCE`]), and the next page's token.
pub fn poll(body: &[u8]) -> Result<(Vec<ChangeHint>, Option<String>), ConnectorError> {
    let mut beans = Vec::new();
    let next = crate::search::Walk::default().page(1, &answer(body), &mut beans)?;
    let since = DateTime::from_timestamp(SINCE, 0).unwrap_or_default();
    Ok((crate::search::poll_hints(beans, since), next))
}

/// A `search/jql` walk against a site that answers page `n` with
/// `pages[n % pages.len()]`: the pages read and how the walk ended (the
/// issues read, or the error the connector reports, also at the cap).
pub fn search_walk(pages: &[Vec<u8>]) -> (usize, Result<usize, ConnectorError>) {
    let mut walk = crate::search::Walk::default();
    let mut out = Vec::new();
    let mut read = 0;
    for number in 1..=MAX_SEARCH_PAGES {
        let Some(body) = pages.get((number - 1) % pages.len().max(1)) else {
            return (read, Ok(out.len()));
        };
        read += 1;
        match walk.page(number, &answer(body), &mut out) {
            Ok(Some(_)) => {}
            Ok(None) => return (read, Ok(out.len())),
            Err(e) => return (read, Err(e)),
        }
    }
    let cap = ConnectorError::InvalidResponse(format!(
        "search/jql: still not the last page after {MAX_SEARCH_PAGES} pages"
    ));
    (read, Err(cap))
}

/// A comment listing against a site that answers page `n` with
/// `pages[n % pages.len()]`: the pages read and how the listing ended.
pub fn comment_walk(pages: &[Vec<u8>]) -> (usize, Result<usize, ConnectorError>) {
    let mut budget = ListingBudget::default();
    let mut raw = Vec::new();
    let mut read = 0;
    for n in 0..MAX_COMMENT_PAGES {
        let Some(body) = pages.get(n % pages.len().max(1)) else {
            break;
        };
        read += 1;
        match crate::comments::read_page(&answer(body), &mut budget, &mut raw) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return (read, Err(e)),
        }
    }
    (read, Ok(raw.len()))
}

/// An error answer as the connector reports it (the vendor's message).
pub fn error(status: u16, body: &[u8]) -> String {
    crate::errors::error_message(status, body)
}
