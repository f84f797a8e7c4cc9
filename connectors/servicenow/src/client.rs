//! The connector's plumbing: the rate-limited [`HttpClient`] for the
//! instance, authentication (Basic as a default header, OAuth bearer per
//! request with one refresh on a 401), and reading the `{"result": …}`
//! envelope.

use std::time::Duration;

use base64::Engine;
use http::{HeaderMap, HeaderValue, Method};
use psa_connector::http::{HttpClient, HttpResponse, HttpSettings};
use psa_connector::{ConnectorError, RateLimits};
use serde_json::Value;
use url::Url;

use crate::auth::{Clock, OAuth};
use crate::choices::ChoiceCache;
use crate::errors::{classify, error_message};
use crate::refs::RefCache;
use crate::settings::{default_limits, AuthMethod, ServiceNowSettings};

/// One ServiceNow instance (one configured connection).
pub struct ServiceNowConnector {
    pub(crate) settings: ServiceNowSettings,
    pub(crate) http: HttpClient,
    oauth: Option<OAuth>,
    pub(crate) refs: RefCache,
    /// Assignees by sys_id and e-mail ([`crate::people`]).
    pub(crate) people: psa_connector::people::PeopleCache,
    pub(crate) choices: ChoiceCache,
    pub(crate) clock: Clock,
}

impl std::fmt::Debug for ServiceNowConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceNowConnector")
            .field("settings", &self.settings)
            .field("oauth", &self.oauth)
            .finish_non_exhaustive()
    }
}

fn system_clock() -> Clock {
    std::sync::Arc::new(chrono::Utc::now)
}

impl ServiceNowConnector {
    /// Default limits and a 30 s timeout; no network traffic happens here.
    pub fn new(settings: ServiceNowSettings) -> Result<Self, ConnectorError> {
        Self::with_limits(settings, default_limits(), Duration::from_secs(30))
    }

    /// Checks the settings; no network traffic happens here.
    pub fn with_limits(
        settings: ServiceNowSettings,
        limits: RateLimits,
        timeout: Duration,
    ) -> Result<Self, ConnectorError> {
        Self::with_clock(settings, limits, timeout, system_clock())
    }

    /// [`Self::with_limits`] with the time source used for token expiry and
    /// notification timestamps.
    pub fn with_clock(
        settings: ServiceNowSettings,
        limits: RateLimits,
        timeout: Duration,
        clock: Clock,
    ) -> Result<Self, ConnectorError> {
        limits.validate().map_err(ConnectorError::Config)?;
        settings.validate().map_err(ConnectorError::Config)?;
        let mut base = Url::parse(&settings.instance_url)
            .map_err(|e| ConnectorError::Config(format!("instance_url: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let oauth = match settings.auth {
            AuthMethod::Basic => {
                let pair = format!(
                    "{}:{}",
                    settings.username.as_deref().unwrap_or_default(),
                    settings.password.as_deref().unwrap_or_default()
                );
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                let mut value =
                    HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
                        ConnectorError::Config("username/password unusable in a header".into())
                    })?;
                value.set_sensitive(true);
                headers.insert("authorization", value);
                None
            }
            _ => Some(OAuth::new(&settings, &base, timeout, clock.clone())?),
        };
        let http = HttpClient::new(HttpSettings {
            base_url: base,
            default_headers: headers,
            limits,
            timeout,
            default_retry_after: Duration::from_secs(60),
            error_message,
        })?;
        Ok(Self {
            settings,
            http,
            oauth,
            refs: RefCache::default(),
            people: Default::default(),
            choices: ChoiceCache::default(),
            clock,
        })
    }

    /// The Table API URL of `table` (and a record), with query parameters.
    pub(crate) fn table_url(
        &self,
        table: &str,
        sys_id: Option<&str>,
        params: &[(&str, &str)],
    ) -> Result<Url, ConnectorError> {
        let path = match sys_id {
            Some(id) => format!("api/now/table/{table}/{id}"),
            None => format!("api/now/table/{table}"),
        };
        let mut url = self.http.url(&path)?;
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        Ok(url)
    }

    /// Sends one request, with a bearer token under OAuth; a 401 refreshes
    /// the token once and repeats the request, a second 401 is permanent.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<HttpResponse, ConnectorError> {
        let Some(oauth) = &self.oauth else {
            return self.http.send(method, url, body).await.map_err(classify);
        };
        let mut refreshed = false;
        loop {
            let token = oauth.bearer().await?;
            let mut headers = HeaderMap::new();
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", token.0)).map_err(|_| {
                    ConnectorError::InvalidResponse(
                        "the OAuth token cannot be sent in a header".into(),
                    )
                })?;
            value.set_sensitive(true);
            headers.insert("authorization", value);
            match self
                .http
                .send_with_headers(method.clone(), url.clone(), body, headers)
                .await
            {
                Err(ConnectorError::Http { status: 401, .. }) if !refreshed => {
                    tracing::info!("ServiceNow refused the OAuth token (401); refreshing once");
                    oauth.invalidate(&token).await;
                    refreshed = true;
                }
                other => return other.map_err(classify),
            }
        }
    }

    /// `result` of an answer; a missing or unreadable envelope is an error.
    pub(crate) fn result(response: &HttpResponse) -> Result<Value, ConnectorError> {
        let mut value: Value = response.json()?;
        match value.get_mut("result").map(Value::take) {
            Some(result) if !result.is_null() => Ok(result),
            _ => Err(ConnectorError::InvalidResponse(format!(
                "the answer has no \"result\": {}",
                psa_connector::http::snippet(&response.body)
            ))),
        }
    }
}
