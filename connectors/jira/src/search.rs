//! `POST /rest/api/3/search/jql` with `nextPageToken` paging (never the
//! removed `GET /rest/api/3/search`): bounded pages, a token seen twice is
//! a cycle, a page cap, 128 MiB of answers per walk. Polling uses JQL `project = X AND updated >=
//! "yyyy/MM/dd HH:mm"` in the API user's time zone; JQL has minute
//! precision, so the minute is rounded down and hits before `since` are
//! dropped here by their millisecond `updated` stamps.

use std::collections::HashSet;

use chrono::SubsecRound;
use http::Method;
use psa_connector::http::{HttpResponse, ListingBudget};
use psa_connector::{ChangeHint, ConnectorError, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::JiraConnector;
use crate::issues::parse_time;
use crate::MARKER_PROPERTY;

/// Issues asked for per page.
pub(crate) const PAGE_SIZE: usize = 100;
/// Never follow `nextPageToken` past this many pages (100,000 issues).
pub(crate) const MAX_PAGES: usize = 1_000;

/// A JQL string literal.
pub(crate) fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    issues: Vec<Value>,
    #[serde(rename = "nextPageToken")]
    next: Option<String>,
    #[serde(rename = "isLast")]
    is_last: Option<bool>,
}

/// The state of one `search/jql` walk: the tokens followed and the bytes
/// read (at most [`ListingBudget`]'s 128 MiB in all).
#[derive(Debug, Default)]
pub(crate) struct Walk {
    seen: HashSet<String>,
    budget: ListingBudget,
}

impl Walk {
    /// Reads page `page_number` (1-based) into `out`: the token of the next
    /// page, or `None` after the last. A token after an empty page, a token
    /// already followed and a walk past the budget are errors.
    pub(crate) fn page(
        &mut self,
        page_number: usize,
        response: &HttpResponse,
        out: &mut Vec<Value>,
    ) -> Result<Option<String>, ConnectorError> {
        self.budget.take("search/jql", response.body.len())?;
        let page: Page = response.json()?;
        let empty = page.issues.is_empty();
        out.extend(page.issues);
        let next = match (page.is_last, page.next) {
            (Some(true), _) | (_, None) => return Ok(None),
            (_, Some(next)) => next,
        };
        if empty {
            return Err(ConnectorError::InvalidResponse(format!(
                "search/jql: nextPageToken after an empty page {page_number}"
            )));
        }
        if !self.seen.insert(next.clone()) {
            return Err(ConnectorError::InvalidResponse(format!(
                "search/jql: nextPageToken after page {page_number} was already followed (a paging cycle)"
            )));
        }
        Ok(Some(next))
    }
}

/// Polling hits as change hints: beans without an id skipped, hits stamped
/// before `floor` dropped, each issue once.
pub(crate) fn poll_hints(beans: Vec<Value>, floor: Timestamp) -> Vec<ChangeHint> {
    let mut hints = Vec::new();
    let mut ids = HashSet::new();
    for bean in beans {
        let Some(id) = bean.get("id").and_then(Value::as_str) else {
            continue;
        };
        let updated = bean
            .pointer("/fields/updated")
            .and_then(Value::as_str)
            .and_then(parse_time);
        if updated.is_some_and(|u| u < floor) || !ids.insert(id.to_string()) {
            continue;
        }
        hints.push(ChangeHint {
            ticket_id: id.to_string(),
            updated_at: updated,
            dedup_key: format!(
                "jira:poll:{id}:{}",
                updated.map(|u| u.timestamp_millis()).unwrap_or_default()
            ),
            detail: Default::default(),
        });
    }
    hints
}

impl JiraConnector {
    /// Every issue matching `jql` (up to `max_pages` pages), with `fields`
    /// (comma separated) and the marker property.
    pub(crate) async fn search(
        &self,
        jql: &str,
        fields: &str,
        max_pages: usize,
    ) -> Result<Vec<Value>, ConnectorError> {
        let url = self.url("rest/api/3/search/jql", &[])?;
        let fields: Vec<&str> = fields.split(',').collect();
        let mut token: Option<String> = None;
        let mut walk = Walk::default();
        let mut out = Vec::new();
        for page_number in 1..=max_pages.min(MAX_PAGES) {
            let mut body = json!({"jql": jql, "maxResults": PAGE_SIZE, "fields": fields, "properties": [MARKER_PROPERTY]});
            if let Some(t) = &token {
                body["nextPageToken"] = json!(t);
            }
            let response = self
                .http
                .send(Method::POST, url.clone(), Some(&body))
                .await?;
            match walk.page(page_number, &response, &mut out)? {
                None => return Ok(out),
                next => token = next,
            }
        }
        Err(ConnectorError::InvalidResponse(format!(
            "search/jql: still not the last page after {} pages",
            max_pages.min(MAX_PAGES)
        )))
    }

    /// The JQL date for `since` in the user's zone, rounded down to the minute.
    pub(crate) async fn jql_minute(&self, since: Timestamp) -> Result<String, ConnectorError> {
        let tz = self.time_zone().await?;
        Ok(since
            .with_timezone(&tz)
            .format("%Y/%m/%d %H:%M")
            .to_string())
    }

    pub(crate) async fn do_changed_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<ChangeHint>, ConnectorError> {
        let jql = format!(
            "project = {} AND updated >= {} ORDER BY updated ASC",
            self.settings.project,
            quote(&self.jql_minute(since).await?)
        );
        let beans = self.search(&jql, "updated", MAX_PAGES).await?;
        Ok(poll_hints(beans, since.trunc_subsecs(3)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_jql_strings() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
