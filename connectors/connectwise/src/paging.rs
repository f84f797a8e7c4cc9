//! `Link`-header paging: every item of a list, following `rel="next"` on
//! the API's origin only, with guards against servers that would keep the
//! connector paging (cycles, far more pages than the list's count, `next`
//! after an empty page, a hard page cap). The count is only a hint: a list
//! may grow while it is read, and a failed `/count` call is no count. The
//! pages of one listing together are read up to
//! [`psa_connector::http::MAX_LISTING_BYTES`].

use std::collections::HashSet;

use http::Method;
use psa_connector::http::{same_origin_as, ListingBudget};
use psa_connector::ConnectorError;
use serde::de::DeserializeOwned;

use crate::client::ConnectWiseConnector;

/// Largest page ConnectWise serves.
pub(crate) const PAGE_SIZE: usize = 1000;
/// Never follow `Link: next` past this many pages (a loop guard; 1,000,000
/// items), whatever the list's count says.
const MAX_PAGES: usize = 1_000;
/// Pages allowed beyond those the count needs, on top of doubling them: the
/// list may grow while it is read (a busy tenant), and growth is no error.
const SPARE_PAGES: usize = 10;

/// How many pages a list counted at `count` items may take: twice what the
/// count needs plus [`SPARE_PAGES`], never more than [`MAX_PAGES`].
pub(crate) fn page_limit(count: usize) -> usize {
    count
        .div_ceil(PAGE_SIZE)
        .saturating_mul(2)
        .saturating_add(SPARE_PAGES)
        .min(MAX_PAGES)
}

impl ConnectWiseConnector {
    /// Every item of a list, following `Link: <…>; rel="next"` on the same
    /// origin. A hostile or broken server cannot keep it paging: a `next`
    /// that leads to a page already read (a cycle), a `next` after an empty
    /// page, and more pages than [`page_limit`] allows for the list's
    /// `/count` (or [`MAX_PAGES`] when there is no count) are errors.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ConnectorError> {
        let mut paged = query.to_vec();
        paged.push(("pageSize", PAGE_SIZE.to_string()));
        paged.push(("page", "1".to_string()));
        let mut url = self.api_url(path, &paged).await?;
        let mut visited = HashSet::from([url.to_string()]);
        let mut limit = MAX_PAGES;
        let mut total = None;
        let mut items = Vec::new();
        let mut budget = ListingBudget::default();
        let mut page_number = 0;
        loop {
            page_number += 1;
            if page_number > limit {
                return Err(ConnectorError::InvalidResponse(format!(
                    "{path}: Link next goes past {limit} pages{}",
                    total
                        .map(|n| format!(" although the server counts {n} items"))
                        .unwrap_or_default()
                )));
            }
            let response = self.http.send(Method::GET, url.clone(), None).await?;
            budget.take(path, response.body.len())?;
            let page: Vec<T> = response.json()?;
            let empty = page.is_empty();
            items.extend(page);
            let Some(next) = next_link(&response.headers) else {
                return Ok(items);
            };
            // Credentials never leave the API's origin.
            let next = same_origin_as(self.api_root().await?, &next)?;
            if empty {
                return Err(ConnectorError::InvalidResponse(format!(
                    "{path}: Link next after an empty page {page_number}"
                )));
            }
            if !visited.insert(next.to_string()) {
                return Err(ConnectorError::InvalidResponse(format!(
                    "{path}: Link next after page {page_number} leads back to a page already read (a paging cycle)"
                )));
            }
            if page_number == 1 {
                total = self.count(path, query).await;
                if let Some(n) = total {
                    limit = page_limit(n);
                }
            }
            url = next;
        }
    }

    /// `{path}/count` with the same conditions; `None` when the list has no
    /// count endpoint or the call fails (the count only bounds paging, so
    /// a failure is no reason to fail the listing).
    async fn count(&self, path: &str, query: &[(&str, String)]) -> Option<usize> {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        let conditions: Vec<(&str, String)> = query
            .iter()
            .filter(|(k, _)| *k == "conditions")
            .cloned()
            .collect();
        match self
            .get::<Count>(
                &format!("{}/count", path.trim_end_matches('/')),
                &conditions,
            )
            .await
        {
            Ok(c) => Some(usize::try_from(c.count).unwrap_or(usize::MAX)),
            Err(e) => {
                tracing::debug!(path, error = %e, "no list count; paging up to the hard cap");
                None
            }
        }
    }
}

/// The `rel="next"` target of a `Link` header, if any (targets may hold commas).
pub(crate) fn next_link(headers: &http::HeaderMap) -> Option<String> {
    for value in headers.get_all(http::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let close = after.find('>')?;
            let target = &after[..close];
            let params_all = &after[close + 1..];
            let params = &params_all[..params_all.find('<').unwrap_or(params_all.len())];
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').replace(' ', "");
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            });
            if is_next {
                return Some(target.to_string());
            }
            rest = params_all;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_limit_leaves_room_for_growth_under_a_hard_cap() {
        assert_eq!(page_limit(0), SPARE_PAGES);
        assert_eq!(page_limit(1500), 2 * 2 + SPARE_PAGES);
        assert_eq!(page_limit(100 * PAGE_SIZE), 200 + SPARE_PAGES);
        assert_eq!(page_limit(usize::MAX), MAX_PAGES);
    }

    #[test]
    fn parses_link_next() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::LINK,
            r#"<https://x/a?page=1>; rel="first", <https://x/a?page=3>; rel="next", <https://x/a?page=9>; rel="last""#
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://x/a?page=3"));
        h.insert(
            http::header::LINK,
            r#"<https://x/a?page=1>; rel="first""#.parse().unwrap(),
        );
        assert_eq!(next_link(&h), None);
        h.insert(
            http::header::LINK,
            r#"<https://x/a?fields=id,summary&page=2>; rel="next""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://x/a?fields=id,summary&page=2")
        );
    }
}
