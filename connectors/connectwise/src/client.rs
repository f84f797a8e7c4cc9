//! The connector's plumbing: the rate-limited HTTP client and the cached
//! lookups of boards, per-board statuses and priorities. Discovery of the API
//! root is in `discovery`, paging in `paging`.

use std::collections::HashMap;
use std::time::Duration;

use http::Method;
use psa_connector::http::{HttpClient, HttpSettings};
use psa_connector::{ConnectorError, RateLimits};
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, OnceCell};
use url::Url;

use crate::api::{CwBoard, CwPriority, CwStatus};
use crate::keys::KeyFetcher;
use crate::settings::{normalize_codebase, ConnectWiseSettings};

/// A ConnectWise PSA connection. No network until the first call.
pub struct ConnectWiseConnector {
    pub(crate) settings: ConnectWiseSettings,
    pub(crate) http: HttpClient,
    pub(crate) api: OnceCell<Url>,
    boards: Mutex<Option<Vec<CwBoard>>>,
    /// Owners by member id and e-mail ([`crate::people`]).
    pub(crate) people: psa_connector::people::PeopleCache,
    statuses: Mutex<HashMap<i64, Vec<CwStatus>>>,
    priorities: Mutex<Option<Vec<CwPriority>>>,
    pub(crate) keys: KeyFetcher,
    pub(crate) key_hosts: Vec<String>,
    /// The API member this connection writes as, learnt from write answers.
    pub(crate) own_member: crate::hint_detail::OwnMember,
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
        let api = OnceCell::new();
        if let Some(cb) = &settings.codebase {
            let _ = api.set(crate::discovery::api_root(
                &crate::discovery::api_base(&settings.site()?, None),
                &normalize_codebase(cb)?,
            )?);
        }
        Ok(Self {
            key_hosts: settings.key_hosts()?,
            keys: KeyFetcher::new(settings.site()?.scheme().to_string())?
                .with_limiter(http.limiter().clone()),
            settings,
            http,
            api,
            boards: Mutex::new(None),
            people: Default::default(),
            statuses: Mutex::new(HashMap::new()),
            priorities: Mutex::new(None),
            own_member: Default::default(),
        })
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let url = self.api_url(path, query).await?;
        self.http.send_json(Method::GET, url, None).await
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

    /// [`Self::cached_status_closed`] without waiting: `None` while the
    /// cache is being refreshed (its lock is held across the vendor call),
    /// so a webhook never waits on one.
    pub(crate) fn cached_status_closed_now(
        &self,
        board_id: Option<i64>,
        status_id: Option<i64>,
    ) -> Option<bool> {
        let (Some(board), Some(status)) = (board_id, status_id) else {
            return Some(false);
        };
        let cache = self.statuses.try_lock().ok()?;
        Some(
            cache
                .get(&board)
                .and_then(|list| list.iter().find(|s| s.id == status))
                .is_some_and(|s| s.closed),
        )
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
