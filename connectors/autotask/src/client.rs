//! The connector's plumbing: lazy zone discovery, the rate-limited
//! [`HttpClient`] for the zone, cached picklists and paged queries.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use psa_connector::http::{read_limited, HttpClient, HttpSettings};
use psa_connector::{ApiStats, ConnectorError, RateLimits};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};
use url::Url;

use crate::errors::classify;
use crate::picklists::EntityPicklists;
use crate::resources::ResourceNames;
use crate::settings::AutotaskSettings;
use crate::wire::{self, FieldsResponse, ItemResponse};

/// Largest zone discovery answer read (a real one is a few hundred bytes).
const MAX_ZONE_BYTES: usize = 64 * 1024;
/// Autotask's page size ceiling.
pub(crate) const MAX_RECORDS: u32 = 500;

/// One Autotask account.
pub struct AutotaskConnector {
    pub(crate) settings: AutotaskSettings,
    limits: RateLimits,
    timeout: Duration,
    http: OnceCell<HttpClient>,
    /// Counts every call of `http`, also before the zone is known.
    pub(crate) stats: ApiStats,
    ticket_lists: Mutex<Option<Arc<EntityPicklists>>>,
    note_lists: Mutex<Option<Arc<EntityPicklists>>>,
    /// Note authors' names by resource id.
    pub(crate) resource_names: ResourceNames,
    /// Assignees by resource id and e-mail ([`crate::people`]).
    pub(crate) people: psa_connector::people::PeopleCache,
    /// The tenant's shared request budget ([`crate::budget`]).
    pub(crate) budget: crate::budget::Budget,
    /// The resource the webhooks exclude (the API user's), once known.
    pub(crate) excluded_resource: OnceCell<i64>,
    /// An authenticated `Deactivated` notice arrived (cleared when read).
    pub(crate) deactivated: std::sync::atomic::AtomicBool,
}

#[derive(Deserialize)]
struct ZoneInformation {
    #[serde(alias = "Url")]
    url: String,
}

impl AutotaskConnector {
    /// Checks the settings; no network traffic happens here.
    pub fn new(
        settings: AutotaskSettings,
        limits: RateLimits,
        timeout: Duration,
    ) -> Result<Self, ConnectorError> {
        limits.validate().map_err(ConnectorError::Config)?;
        for (name, value) in [
            ("username", &settings.username),
            ("secret", &settings.secret),
            ("integration_code", &settings.integration_code),
            ("marker_udf", &settings.marker_udf),
        ] {
            if value.trim().is_empty() {
                return Err(ConnectorError::Config(format!("{name} must not be empty")));
            }
        }
        match &settings.api_url {
            Some(api) => {
                let url =
                    Url::parse(api).map_err(|e| ConnectorError::Config(format!("api_url: {e}")))?;
                psa_connector::http::check_scheme("api_url", &url)?;
            }
            None => {
                let url = Url::parse(&settings.zone_discovery_url)
                    .map_err(|e| ConnectorError::Config(format!("zone_discovery_url: {e}")))?;
                psa_connector::http::check_scheme("zone_discovery_url", &url)?;
            }
        }
        if settings
            .webhook_secret
            .as_ref()
            .is_some_and(|s| s.is_empty() || s.chars().count() > 64)
        {
            return Err(ConnectorError::Config(
                "webhook_secret must be 1 to 64 characters (Autotask's SecretKey limit)".into(),
            ));
        }
        let share = settings.api_budget_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(ConnectorError::Config(format!(
                "api_budget_share must be more than 0 and at most 1 (got {share})"
            )));
        }
        if settings.api_budget_check_calls == 0 || settings.api_budget_check_secs > 3600 {
            return Err(ConnectorError::Config(
                "api_budget_check_calls must be at least 1 and api_budget_check_secs at most 3600"
                    .into(),
            ));
        }
        let budget = crate::budget::Budget::new(
            share,
            settings.api_budget_check_calls,
            Duration::from_secs(settings.api_budget_check_secs),
        );
        Ok(Self {
            budget,
            excluded_resource: OnceCell::new(),
            deactivated: Default::default(),
            settings,
            limits,
            timeout,
            http: OnceCell::new(),
            ticket_lists: Mutex::new(None),
            stats: ApiStats::new(),
            note_lists: Mutex::new(None),
            resource_names: ResourceNames::default(),
            people: Default::default(),
        })
    }

    /// The zone's client, discovering the zone on first use.
    pub(crate) async fn http(&self) -> Result<&HttpClient, ConnectorError> {
        self.http.get_or_try_init(|| self.build_client()).await
    }

    async fn build_client(&self) -> Result<HttpClient, ConnectorError> {
        let root = match &self.settings.api_url {
            Some(url) => url.clone(),
            None => self.discover_zone().await?,
        };
        let mut base = Url::parse(&root)
            .map_err(|e| ConnectorError::Config(format!("zone URL {root:?}: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let base = base
            .join("V1.0/")
            .map_err(|e| ConnectorError::Config(format!("zone URL {root:?}: {e}")))?;
        tracing::info!(zone = %base, "autotask zone");
        HttpClient::new(HttpSettings {
            base_url: base,
            default_headers: self.auth_headers()?,
            limits: self.limits.clone(),
            timeout: self.timeout,
            default_retry_after: Duration::from_secs(60),
            error_message: wire::error_message,
        })
        .map(|client| client.with_stats(self.stats.clone()))
    }

    fn auth_headers(&self) -> Result<HeaderMap, ConnectorError> {
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &str, sensitive: bool| {
            let mut v = HeaderValue::from_str(value).map_err(|_| {
                ConnectorError::Config(format!("{name} contains characters a header cannot carry"))
            })?;
            v.set_sensitive(sensitive);
            headers.insert(HeaderName::from_static(name), v);
            Ok::<(), ConnectorError>(())
        };
        put("apiintegrationcode", &self.settings.integration_code, true)?;
        put("username", &self.settings.username, true)?;
        put("secret", &self.settings.secret, true)?;
        if let Some(id) = self.settings.impersonation_resource_id {
            put("impersonationresourceid", &id.to_string(), false)?;
        }
        put("accept", "application/json", false)?;
        Ok(headers)
    }

    /// `GET {discovery}v1.0/zoneInformation?user=…` with a plain client (no credentials sent).
    async fn discover_zone(&self) -> Result<String, ConnectorError> {
        let mut url = Url::parse(&self.settings.zone_discovery_url)
            .map_err(|e| ConnectorError::Config(format!("zone_discovery_url: {e}")))?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let mut url = url
            .join("v1.0/zoneInformation")
            .map_err(|e| ConnectorError::Config(format!("zone_discovery_url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("user", &self.settings.username);
        psa_connector::http::check_scheme("zone_discovery_url", &url)?;
        let client = psa_connector::http::client_builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {e}")))?;
        let response = client.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                ConnectorError::Timeout
            } else {
                ConnectorError::Transport(format!(
                    "zone discovery: {}",
                    psa_connector::http::transport_message(e)
                ))
            }
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        // The endpoint is unauthenticated: never read an unbounded body from it.
        let body = read_limited(response, MAX_ZONE_BYTES)
            .await
            .map_err(|e| match e {
                ConnectorError::InvalidResponse(m) => ConnectorError::InvalidResponse(format!(
                    "zone discovery: {m}; check zone_discovery_url (or set api_url to the zone directly)"
                )),
                ConnectorError::Transport(m) => {
                    ConnectorError::Transport(format!("zone discovery: {m}"))
                }
                other => other,
            })?;
        if !status.is_success() {
            return Err(classify(ConnectorError::Http {
                status: status.as_u16(),
                // The user name is a credential: never in messages or logs.
                message: format!(
                    "zone discovery for the API user failed: {}",
                    wire::error_message(status.as_u16(), &body)
                ),
                retry_after: psa_connector::http::parse_retry_after(&headers)
                    .or((status == http::StatusCode::TOO_MANY_REQUESTS)
                        .then_some(Duration::from_secs(60))),
            }));
        }
        let zone: ZoneInformation = serde_json::from_slice(&body)
            .map_err(|e| ConnectorError::InvalidResponse(format!("zone information: {e}")))?;
        Ok(zone.url)
    }

    /// Sends a request to a path relative to `…/V1.0/`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<psa_connector::http::HttpResponse, ConnectorError> {
        let http = self.http().await?;
        let url = http.url(path)?;
        self.spend_budget().await?;
        http.send(method, url, body).await.map_err(classify)
    }

    /// `GET {path}` returning `{"item": …}`; only `"item": null` (how
    /// Autotask answers a read of a record that does not exist) is NotFound.
    ///
    /// A read answered with HTTP 500 "No matching records found. The logged
    /// in Resource may not have the required permissions…" is a permission
    /// problem, not a missing record: it stays the permanent
    /// [`ConnectorError::Rejected`], so a linked ticket is never unlinked
    /// ("the far ticket was deleted") because of a permissions glitch. Only
    /// writes read that message as a missing record ([`missing_on_write`]).
    ///
    /// [`missing_on_write`]: crate::errors::missing_on_write
    pub(crate) async fn get_item(&self, path: &str, what: &str) -> Result<Value, ConnectorError> {
        let item: ItemResponse = self.call(Method::GET, path, None).await?.json()?;
        match item.item {
            None | Some(Value::Null) => Err(ConnectorError::NotFound(what.to_string())),
            Some(v) => Ok(v),
        }
    }

    async fn load_lists(&self, path: &str) -> Result<Arc<EntityPicklists>, ConnectorError> {
        let response: FieldsResponse = self.call(Method::GET, path, None).await?.json()?;
        Ok(Arc::new(EntityPicklists::from_response(response)))
    }

    /// Ticket picklists, cached; `refresh` re-reads them.
    pub(crate) async fn ticket_lists(
        &self,
        refresh: bool,
    ) -> Result<Arc<EntityPicklists>, ConnectorError> {
        let mut cached = self.ticket_lists.lock().await;
        if let (Some(lists), false) = (cached.as_ref(), refresh) {
            return Ok(lists.clone());
        }
        let lists = self.load_lists("Tickets/entityInformation/fields").await?;
        *cached = Some(lists.clone());
        Ok(lists)
    }

    /// Ticket note picklists (noteType, publish), cached.
    pub(crate) async fn note_lists(&self) -> Result<Arc<EntityPicklists>, ConnectorError> {
        let mut cached = self.note_lists.lock().await;
        if let Some(lists) = cached.as_ref() {
            return Ok(lists.clone());
        }
        let lists = self
            .load_lists("TicketNotes/entityInformation/fields")
            .await?;
        *cached = Some(lists.clone());
        Ok(lists)
    }

    /// The marker UDF must exist, or idempotent creates cannot work.
    pub(crate) async fn check_marker_udf(&self) -> Result<(), ConnectorError> {
        let response: FieldsResponse = self
            .call(
                Method::GET,
                "Tickets/entityInformation/userDefinedFields",
                None,
            )
            .await?
            .json()?;
        let name = &self.settings.marker_udf;
        if response.fields.iter().any(|f| &f.name == name) {
            return Ok(());
        }
        Err(ConnectorError::Config(format!(
            "the ticket user-defined field {name:?} (marker_udf) does not exist in this Autotask tenant; \
             create it as a text UDF on Tickets or set marker_udf to an existing one"
        )))
    }

    /// Picklists of another entity (webhook field ids), not cached.
    pub(crate) async fn entity_lists(
        &self,
        entity: &str,
    ) -> Result<Arc<EntityPicklists>, ConnectorError> {
        self.load_lists(&format!("{entity}/entityInformation/fields"))
            .await
    }
}
