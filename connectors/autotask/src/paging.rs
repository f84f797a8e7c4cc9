//! Paged reads: a query (`POST {Entity}/query`, whose `nextPageUrl` is POSTed
//! again with the same body) or a child collection (`GET`), followed page by
//! page on the zone's own origin.
//!
//! A vendor (or something posing as one) can send a `nextPageUrl` chain that
//! never ends. The walk refuses a page it has already read (a cycle of any
//! length), and once a query spans a second page it asks `…/query/count` once
//! and allows no more pages than that count needs (plus slack for records
//! added meanwhile). A hard page cap bounds everything else.

use std::collections::HashSet;

use http::Method;
use psa_connector::ConnectorError;
use serde_json::Value;

use crate::client::AutotaskConnector;
use crate::errors::classify;
use crate::wire::{QueryCount, QueryPage};

/// Most pages a query may span (500 items each: a million records).
const MAX_QUERY_PAGES: u64 = 2_000;
/// Most pages a child collection (a ticket's notes, a webhook's fields) may span.
const MAX_LIST_PAGES: u64 = 200;
/// Pages allowed beyond what the count needs (records created while paging).
const SLACK_PAGES: u64 = 2;

impl AutotaskConnector {
    /// Runs a query (`POST {entity}/query`, or GET for child collections when
    /// `body` is None) and follows `nextPageUrl` on the same origin.
    pub(crate) async fn query_all(
        &self,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<Value>, ConnectorError> {
        let http = self.http().await?;
        let mut url = http.url(path)?;
        let method = if body.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let mut cap = if body.is_some() {
            MAX_QUERY_PAGES
        } else {
            MAX_LIST_PAGES
        };
        let mut counted = None;
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        let mut pages: u64 = 0;
        loop {
            seen.insert(url.clone());
            let page: QueryPage = http
                .send_json(method.clone(), url.clone(), body)
                .await
                .map_err(classify)?;
            pages += 1;
            let page_len = page.items.len() as u64;
            items.extend(page.items);
            let next = page
                .page_details
                .and_then(|d| d.next_page_url)
                .filter(|u| !u.trim().is_empty());
            let Some(next) = next else {
                return Ok(items);
            };
            let next = http.same_origin(&next)?;
            if seen.contains(&next) {
                return Err(ConnectorError::InvalidResponse(format!(
                    "query {path}: nextPageUrl leads back to a page already read ({}) after {pages} pages",
                    next.path()
                )));
            }
            if let (None, Some(body)) = (counted, body.filter(|_| path.ends_with("/query"))) {
                let total = self.query_count(path, body).await?;
                counted = Some(total);
                cap = cap.min(total.div_ceil(page_len.max(1)) + SLACK_PAGES);
            }
            if pages >= cap {
                let limit = match counted {
                    Some(total) => format!("the query counts {total} records"),
                    None => format!("at most {cap} pages are read"),
                };
                return Err(ConnectorError::InvalidResponse(format!(
                    "query {path}: nextPageUrl still leads on after {pages} pages and {} items, but {limit}",
                    items.len()
                )));
            }
            url = next;
        }
    }

    /// `POST {path}/count` with a query's body: how many records it matches.
    async fn query_count(&self, path: &str, body: &Value) -> Result<u64, ConnectorError> {
        let count: QueryCount = self
            .call(Method::POST, &format!("{path}/count"), Some(body))
            .await?
            .json()?;
        Ok(count.query_count)
    }
}
