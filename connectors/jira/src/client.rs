//! The connector's plumbing: the rate-limited HTTP client with Basic auth,
//! HTTP helpers that map 404 to `NotFound`, and the cached site facts
//! (time zone, fields, priorities, statuses, the project and its type).

use std::collections::HashMap;
use std::time::Duration;

use http::Method;
use psa_connector::http::{HttpClient, HttpSettings};
use psa_connector::{ConnectorError, RateLimits};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::settings::JiraSettings;

/// A field of the site's catalogue (`GET /rest/api/3/field`).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct FieldInfo {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub schema: Option<Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct StatusCategory {
    pub key: String,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct StatusInfo {
    pub id: String,
    pub name: String,
    #[serde(rename = "statusCategory")]
    pub category: StatusCategory,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ProjectInfo {
    pub key: String,
    #[serde(rename = "projectTypeKey", default)]
    pub project_type: String,
    #[serde(rename = "issueTypes", default)]
    pub issue_types: Vec<Named>,
}

impl ProjectInfo {
    pub fn service_desk(&self) -> bool {
        self.project_type == "service_desk"
    }
}

#[derive(Default)]
pub(crate) struct Cache {
    pub time_zone: Option<chrono_tz::Tz>,
    /// The API user's `accountId`, read with its time zone from `myself`.
    pub account_id: Option<String>,
    pub fields: Option<Vec<FieldInfo>>,
    pub priorities: Option<Vec<Named>>,
    pub statuses: Option<Vec<StatusInfo>>,
    pub project: Option<ProjectInfo>,
    /// Transitions seen offered in each status: status id → (transition name, target status id).
    pub learned: HashMap<String, Vec<(String, String)>>,
    /// The project's workflow from the admin API, when readable.
    pub workflow: Option<Vec<crate::transitions::Edge>>,
}

/// A Jira Cloud connection. No network until the first call.
pub struct JiraConnector {
    pub(crate) settings: JiraSettings,
    pub(crate) http: HttpClient,
    pub(crate) cache: Mutex<Cache>,
    /// Assignees by e-mail ([`crate::people`]).
    pub(crate) people: psa_connector::people::PeopleCache,
}

impl std::fmt::Debug for JiraConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraConnector")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A path segment, percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    urlencoding::encode(s).into_owned()
}

impl JiraConnector {
    pub fn new(
        settings: JiraSettings,
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
            default_retry_after: Duration::from_secs(30),
            error_message: crate::errors::error_message,
        })?;
        Ok(Self {
            settings,
            http,
            cache: Mutex::new(Cache::default()),
            people: Default::default(),
        })
    }

    pub(crate) fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, ConnectorError> {
        let mut url = self.http.url(path)?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        self.http
            .send_json(Method::GET, self.url(path, query)?, None)
            .await
    }

    /// Sends a write; a 404 becomes `NotFound(what)`.
    pub(crate) async fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        what: &str,
    ) -> Result<psa_connector::http::HttpResponse, ConnectorError> {
        match self
            .http
            .send(method, self.url(path, &[])?, Some(body))
            .await
        {
            Err(ConnectorError::Http { status: 404, .. }) => {
                Err(ConnectorError::NotFound(what.to_string()))
            }
            Err(ConnectorError::Http {
                status, message, ..
            }) if matches!(status, 400 | 403 | 409 | 413 | 422) => {
                Err(ConnectorError::Rejected { status, message })
            }
            other => other,
        }
    }

    /// The API user's time zone (JQL dates are in it).
    pub(crate) async fn time_zone(&self) -> Result<chrono_tz::Tz, ConnectorError> {
        if let Some(tz) = self.cache.lock().await.time_zone {
            return Ok(tz);
        }
        #[derive(Deserialize)]
        struct Me {
            #[serde(rename = "timeZone")]
            time_zone: Option<String>,
            #[serde(rename = "accountId", default)]
            account_id: Option<String>,
        }
        let me: Me = self.get_json("rest/api/3/myself", &[]).await?;
        let tz = match me.time_zone.as_deref().map(str::parse::<chrono_tz::Tz>) {
            Some(Ok(tz)) => tz,
            other => {
                tracing::warn!(zone = ?me.time_zone, ok = other.is_some(), "Jira user time zone unknown; using UTC");
                chrono_tz::UTC
            }
        };
        let mut cache = self.cache.lock().await;
        cache.time_zone = Some(tz);
        if let Some(id) = me.account_id.filter(|id| !id.trim().is_empty()) {
            cache.account_id = Some(id);
        }
        drop(cache);
        Ok(tz)
    }

    pub(crate) async fn fields(&self, refresh: bool) -> Result<Vec<FieldInfo>, ConnectorError> {
        if let (false, Some(f)) = (refresh, self.cache.lock().await.fields.clone()) {
            return Ok(f);
        }
        let list: Vec<FieldInfo> = self.get_json("rest/api/3/field", &[]).await?;
        self.cache.lock().await.fields = Some(list.clone());
        Ok(list)
    }

    /// A field by id or by name (case-insensitive), refreshing once.
    pub(crate) async fn field(&self, name: &str) -> Result<FieldInfo, ConnectorError> {
        for refresh in [false, true] {
            let list = self.fields(refresh).await?;
            let hit = list
                .iter()
                .find(|f| f.id == name)
                .or_else(|| list.iter().find(|f| f.name.eq_ignore_ascii_case(name)));
            if let Some(f) = hit {
                return Ok(f.clone());
            }
            if refresh {
                let mut names: Vec<&str> = list.iter().map(|f| f.name.as_str()).collect();
                names.sort_unstable();
                return Err(ConnectorError::UnknownValue {
                    kind: "field",
                    label: name.to_string(),
                    valid: names.join(", "),
                });
            }
        }
        Err(ConnectorError::UnknownValue {
            kind: "field",
            label: name.to_string(),
            valid: String::new(),
        })
    }

    pub(crate) async fn priorities(&self, refresh: bool) -> Result<Vec<Named>, ConnectorError> {
        if let (false, Some(p)) = (refresh, self.cache.lock().await.priorities.clone()) {
            return Ok(p);
        }
        let list: Vec<Named> = self.get_json("rest/api/3/priority", &[]).await?;
        self.cache.lock().await.priorities = Some(list.clone());
        Ok(list)
    }

    pub(crate) async fn priority_id(&self, label: &str) -> Result<String, ConnectorError> {
        for refresh in [false, true] {
            let list = self.priorities(refresh).await?;
            if let Some(p) = list.iter().find(|p| p.name == label) {
                return Ok(p.id.clone());
            }
            if refresh {
                return Err(ConnectorError::UnknownValue {
                    kind: "priority",
                    label: label.to_string(),
                    valid: list
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Err(ConnectorError::UnknownValue {
            kind: "priority",
            label: label.to_string(),
            valid: String::new(),
        })
    }

    pub(crate) async fn statuses(&self, refresh: bool) -> Result<Vec<StatusInfo>, ConnectorError> {
        if let (false, Some(s)) = (refresh, self.cache.lock().await.statuses.clone()) {
            return Ok(s);
        }
        let list: Vec<StatusInfo> = self.get_json("rest/api/3/status", &[]).await?;
        self.cache.lock().await.statuses = Some(list.clone());
        Ok(list)
    }

    pub(crate) async fn project(&self) -> Result<ProjectInfo, ConnectorError> {
        if let Some(p) = self.cache.lock().await.project.clone() {
            return Ok(p);
        }
        let path = format!("rest/api/3/project/{}", seg(&self.settings.project));
        let p: ProjectInfo = match self.get_json(&path, &[]).await {
            Err(ConnectorError::Http { status: 404, .. }) => {
                return Err(ConnectorError::Config(format!(
                    "Jira project {:?} does not exist or the API user cannot see it",
                    self.settings.project
                )))
            }
            other => other?,
        };
        self.cache.lock().await.project = Some(p.clone());
        Ok(p)
    }
}
