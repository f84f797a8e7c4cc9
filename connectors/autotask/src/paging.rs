//! Paged reads: a query (`POST {Entity}/query`, whose `nextPageUrl` is POSTed
//! again with the same body) or a child collection (`GET`), followed page by
//! page on the zone's own origin.
//!
//! A vendor (or something posing as one) can send a `nextPageUrl` chain that
//! never ends. The walk refuses a page it has already read (a cycle of any
//! length), and once a query spans a second page it asks `…/query/count` once
//! and allows twice the pages that count needs plus [`SLACK_PAGES`]: on a
//! busy tenant records are added while the listing runs, and a poll must not
//! fail for it. A count that cannot be had (an error answer) only means no
//! count-based cap; the hard page cap bounds everything.

use std::collections::HashSet;

use http::Method;
use psa_connector::http::ListingBudget;
use psa_connector::ConnectorError;
use serde_json::Value;

use crate::client::AutotaskConnector;
use crate::errors::classify;
use crate::wire::{QueryCount, QueryPage};

/// Most pages a query may span (500 items each: a million records).
pub(crate) const MAX_QUERY_PAGES: u64 = 2_000;
/// Most pages a child collection (a ticket's notes, a webhook's fields) may span.
const MAX_LIST_PAGES: u64 = 200;
/// Pages allowed beyond twice what the count needs (records created while paging).
const SLACK_PAGES: u64 = 10;

/// The most pages a query counted at `total` records, read `page_len` at a
/// time, may span: ample room for records added meanwhile, never above `hard`.
pub(crate) fn counted_cap(total: u64, page_len: u64, hard: u64) -> u64 {
    let needed = total.div_ceil(page_len.max(1));
    needed
        .saturating_mul(2)
        .saturating_add(SLACK_PAGES)
        .min(hard)
}

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
        let mut asked = false;
        let mut seen = HashSet::new();
        let mut budget = ListingBudget::default();
        let mut items = Vec::new();
        let mut pages: u64 = 0;
        loop {
            seen.insert(url.clone());
            self.spend_budget().await?;
            let answer = http
                .send(method.clone(), url.clone(), body)
                .await
                .map_err(classify)?;
            budget.take(&format!("query {path}"), answer.body.len())?;
            let page: QueryPage = answer.json()?;
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
            if let (false, Some(body)) = (asked, body.filter(|_| path.ends_with("/query"))) {
                asked = true;
                match self.query_count(path, body).await {
                    Ok(total) => {
                        counted = Some(total);
                        cap = counted_cap(total, page_len, cap);
                    }
                    // The count only bounds a hostile chain: without it the
                    // hard cap does, and the listing goes on.
                    Err(e) => {
                        tracing::debug!(path, error = %e, "autotask query count failed; paging without it")
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counted_cap_leaves_room_for_a_busy_tenant() {
        // 1,200 records at 500 a page need 3 pages; 16 are allowed.
        assert_eq!(counted_cap(1_200, 500, MAX_QUERY_PAGES), 16);
        assert_eq!(counted_cap(0, 500, MAX_QUERY_PAGES), SLACK_PAGES);
        // Never above the hard cap, whatever the count says.
        assert_eq!(counted_cap(u64::MAX, 1, MAX_QUERY_PAGES), MAX_QUERY_PAGES);
        assert_eq!(counted_cap(3, 0, MAX_QUERY_PAGES), 16);
    }
}
