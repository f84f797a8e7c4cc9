//! The connector's plumbing: the rate-limited HTTP client, lazy codebase
//! discovery, API URLs, `Link`-header paging, and the cached lookups of
//! boards, per-board statuses and priorities.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use http::Method;
use psa_connector::http::{HttpClient, HttpSettings};
use psa_connector::{ConnectorError, RateLimits};
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, OnceCell};
use url::Url;

use crate::api::{CompanyInfo, CwBoard, CwPriority, CwStatus};
use crate::keys::KeyFetcher;
use crate::settings::{normalize_codebase, ConnectWiseSettings};

/// Largest page ConnectWise serves.
pub(crate) const PAGE_SIZE: usize = 1000;
/// Stop following `Link: next` after this many pages when the list has no
/// count (a loop guard; 1,000,000 items).
const MAX_PAGES: usize = 1_000;

/// A ConnectWise PSA connection. No network until the first call.
pub struct ConnectWiseConnector {
    pub(crate) settings: ConnectWiseSettings,
    pub(crate) http: HttpClient,
    codebase: OnceCell<String>,
    boards: Mutex<Option<Vec<CwBoard>>>,
    statuses: Mutex<HashMap<i64, Vec<CwStatus>>>,
    priorities: Mutex<Option<Vec<CwPriority>>>,
    pub(crate) keys: KeyFetcher,
    pub(crate) key_hosts: Vec<String>,
}

impl std::fmt::Debug for ConnectWiseConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectWiseConnector")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ConnectWiseConnector {
    pub fn new(
        settings: ConnectWiseSettings,
        limits: RateLimits,
        timeout: Duration,
    ) -> Result<Self, ConnectorError> {
        settings.validate()?;
        limits.validate().map_err(ConnectorError::Config)?;
        let http = HttpClient::new(HttpSettings {
            base_url: settings.site()?,
            default_headers: settings.headers()?,
            limits,
            timeout,
            default_retry_after: Duration::from_secs(60),
            error_message: crate::api::error_message,
        })?;
        let codebase = OnceCell::new();
        if let Some(cb) = &settings.codebase {
            let _ = codebase.set(normalize_codebase(cb)?);
        }
        Ok(Self {
            key_hosts: settings.key_hosts()?,
            keys: KeyFetcher::new(settings.site()?.scheme().to_string())?,
            settings,
            http,
            codebase,
            boards: Mutex::new(None),
            statuses: Mutex::new(HashMap::new()),
            priorities: Mutex::new(None),
        })
    }

    /// The codebase, discovered once from `login/companyinfo/{companyId}`.
    async fn codebase(&self) -> Result<&str, ConnectorError> {
        self.codebase
            .get_or_try_init(|| async {
                let company = urlencoding::encode(self.settings.company_id.trim()).into_owned();
                let url = self.http.url(&format!("login/companyinfo/{company}"))?;
                let info: CompanyInfo = match self.http.send_json(Method::GET, url, None).await {
                    Err(ConnectorError::Http { status: 404, .. }) => {
                        return Err(ConnectorError::Config(format!(
                            "company id {:?} is not known at {}",
                            self.settings.company_id,
                            self.http.base()
                        )))
                    }
                    other => other?,
                };
                let codebase = info.codebase.ok_or_else(|| {
                    ConnectorError::InvalidResponse("companyinfo without Codebase".into())
                })?;
                let codebase = normalize_codebase(&codebase)?;
                tracing::info!(%codebase, "discovered ConnectWise codebase");
                Ok(codebase)
            })
            .await
            .map(|s| s.as_str())
    }

    /// `{site}{codebase}apis/3.0/{path}` with query pairs.
    pub(crate) async fn api_url(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Url, ConnectorError> {
        let codebase = self.codebase().await?;
        let mut url = self.http.url(&format!(
            "{codebase}apis/3.0/{}",
            path.trim_start_matches('/')
        ))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let url = self.api_url(path, query).await?;
        self.http.send_json(Method::GET, url, None).await
    }

    /// Every item of a list, following `Link: <…>; rel="next"` on the same
    /// origin. A hostile or broken server cannot keep it paging: a `next`
    /// that leads to a page already read (a cycle), a `next` after an empty
    /// page, and more pages than the list's `/count` says it holds (or
    /// [`MAX_PAGES`] when there is no count) are errors.
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
            let page: Vec<T> = response.json()?;
            let empty = page.is_empty();
            items.extend(page);
            let Some(next) = next_link(&response.headers) else {
                return Ok(items);
            };
            let next = self.http.same_origin(&next)?;
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
                total = self.count(path, query).await?;
                if let Some(n) = total {
                    // One spare page for items added while paging.
                    limit = (n.div_ceil(PAGE_SIZE) + 1).min(MAX_PAGES);
                }
            }
            url = next;
        }
    }

    /// `{path}/count` with the same conditions; `None` when the list has no
    /// count endpoint (404).
    async fn count(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<usize>, ConnectorError> {
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
            Ok(c) => Ok(Some(usize::try_from(c.count).unwrap_or(usize::MAX))),
            Err(ConnectorError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn boards(&self, refresh: bool) -> Result<Vec<CwBoard>, ConnectorError> {
        let mut cache = self.boards.lock().await;
        if let (false, Some(boards)) = (refresh, cache.as_ref()) {
            return Ok(boards.clone());
        }
        let boards: Vec<CwBoard> = self.get_all("service/boards", &[]).await?;
        *cache = Some(boards.clone());
        Ok(boards)
    }

    pub(crate) async fn statuses(
        &self,
        board_id: i64,
        refresh: bool,
    ) -> Result<Vec<CwStatus>, ConnectorError> {
        let mut cache = self.statuses.lock().await;
        if let (false, Some(statuses)) = (refresh, cache.get(&board_id)) {
            return Ok(statuses.clone());
        }
        let statuses: Vec<CwStatus> = self
            .get_all(&format!("service/boards/{board_id}/statuses"), &[])
            .await?;
        cache.insert(board_id, statuses.clone());
        Ok(statuses)
    }

    /// Whether a status is a closed one, from the cache only (no call).
    pub(crate) async fn cached_status_closed(
        &self,
        board_id: Option<i64>,
        status_id: Option<i64>,
    ) -> bool {
        let (Some(board), Some(status)) = (board_id, status_id) else {
            return false;
        };
        self.statuses
            .lock()
            .await
            .get(&board)
            .and_then(|list| list.iter().find(|s| s.id == status))
            .is_some_and(|s| s.closed)
    }

    pub(crate) async fn priorities(
        &self,
        refresh: bool,
    ) -> Result<Vec<CwPriority>, ConnectorError> {
        let mut cache = self.priorities.lock().await;
        if let (false, Some(list)) = (refresh, cache.as_ref()) {
            return Ok(list.clone());
        }
        let list: Vec<CwPriority> = self.get_all("service/priorities", &[]).await?;
        *cache = Some(list.clone());
        Ok(list)
    }

    /// Board id by name (cache, then one refresh).
    pub(crate) async fn board_id(&self, name: &str) -> Result<i64, ConnectorError> {
        for refresh in [false, true] {
            let boards = self.boards(refresh).await?;
            if let Some(b) = boards.iter().find(|b| b.name == name) {
                return Ok(b.id);
            }
            if refresh {
                return Err(ConnectorError::UnknownValue {
                    kind: "board",
                    label: name.to_string(),
                    valid: join(boards.iter().filter(|b| !b.inactive).map(|b| &b.name)),
                });
            }
        }
        unreachable_lookup("board", name)
    }

    /// Status id by label on one board (cache, then one refresh).
    pub(crate) async fn status_id(
        &self,
        board_id: i64,
        label: &str,
    ) -> Result<i64, ConnectorError> {
        for refresh in [false, true] {
            let statuses = self.statuses(board_id, refresh).await?;
            if let Some(s) = statuses.iter().find(|s| s.name == label && !s.inactive) {
                return Ok(s.id);
            }
            if refresh {
                return Err(ConnectorError::UnknownValue {
                    kind: "status",
                    label: label.to_string(),
                    valid: join(statuses.iter().filter(|s| !s.inactive).map(|s| &s.name)),
                });
            }
        }
        unreachable_lookup("status", label)
    }

    /// Priority id by label (cache, then one refresh).
    pub(crate) async fn priority_id(&self, label: &str) -> Result<i64, ConnectorError> {
        for refresh in [false, true] {
            let list = self.priorities(refresh).await?;
            if let Some(p) = list.iter().find(|p| p.name == label) {
                return Ok(p.id);
            }
            if refresh {
                return Err(ConnectorError::UnknownValue {
                    kind: "priority",
                    label: label.to_string(),
                    valid: join(list.iter().map(|p| &p.name)),
                });
            }
        }
        unreachable_lookup("priority", label)
    }
}

fn unreachable_lookup<T>(kind: &'static str, label: &str) -> Result<T, ConnectorError> {
    Err(ConnectorError::UnknownValue {
        kind,
        label: label.to_string(),
        valid: String::new(),
    })
}

fn join<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(String::as_str).collect::<Vec<_>>().join(", ")
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
