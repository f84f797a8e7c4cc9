//! OAuth tokens from `POST /oauth_token.do` (form-encoded; grants
//! `password`, `client_credentials`, `refresh_token`), refreshed shortly
//! before they expire and once more when the instance answers 401.
//!
//! Tokens are never logged, never in an error message and never in `Debug`
//! output: they live in [`Secret`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use psa_connector::ConnectorError;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use crate::settings::{AuthMethod, ServiceNowSettings};

/// The time source; tests replace it to move past a token's expiry.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A token is renewed this long before the instance says it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// Largest token answer read.
const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// A secret string whose `Debug` never shows it, compared in constant time.
#[derive(Clone)]
pub(crate) struct Secret(pub String);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug)]
struct Token {
    access: Secret,
    refresh: Option<Secret>,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// One connection's OAuth client.
pub(crate) struct OAuth {
    method: AuthMethod,
    client_id: Secret,
    client_secret: Secret,
    username: Option<String>,
    password: Option<Secret>,
    configured_refresh: Option<Secret>,
    token_url: Url,
    http: reqwest::Client,
    token: Mutex<Option<Token>>,
    pub clock: Clock,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("method", &self.method)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl OAuth {
    pub fn new(
        settings: &ServiceNowSettings,
        base: &Url,
        timeout: Duration,
        clock: Clock,
    ) -> Result<Self, ConnectorError> {
        let secret = |v: &Option<String>| Secret(v.clone().unwrap_or_default());
        let token_url = base
            .join("oauth_token.do")
            .map_err(|e| ConnectorError::Config(format!("instance_url: {e}")))?;
        let http = psa_connector::http::client_builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            method: settings.auth,
            client_id: secret(&settings.client_id),
            client_secret: secret(&settings.client_secret),
            username: settings.username.clone(),
            password: settings.password.as_ref().map(|p| Secret(p.clone())),
            configured_refresh: settings.refresh_token.as_ref().map(|r| Secret(r.clone())),
            token_url,
            http,
            token: Mutex::new(None),
            clock,
        })
    }

    /// A bearer token valid for at least [`RENEW_BEFORE`], fetching or
    /// refreshing one when needed.
    pub async fn bearer(&self) -> Result<Secret, ConnectorError> {
        let mut token = self.token.lock().await;
        let now = (self.clock)();
        let renew = chrono::Duration::from_std(RENEW_BEFORE).unwrap_or_default();
        if let Some(t) = token.as_ref() {
            if now + renew < t.expires_at {
                return Ok(t.access.clone());
            }
        }
        let refresh = token
            .as_ref()
            .and_then(|t| t.refresh.clone())
            .or_else(|| self.configured_refresh.clone());
        let fresh = match refresh {
            Some(refresh) => match self.request(&self.refresh_form(&refresh)).await {
                Ok(t) => t,
                Err(e) if self.method != AuthMethod::OauthRefreshToken && !e.is_retryable() => {
                    tracing::info!("ServiceNow refresh token refused; requesting a new token");
                    self.request(&self.grant_form()).await?
                }
                Err(e) => return Err(e),
            },
            None => self.request(&self.grant_form()).await?,
        };
        let access = fresh.access.clone();
        // Keep the refresh token we had when the answer brings none.
        let refresh = fresh
            .refresh
            .or_else(|| token.as_ref().and_then(|t| t.refresh.clone()));
        *token = Some(Token { refresh, ..fresh });
        Ok(access)
    }

    /// Forgets `used` after the instance refused it (401), so the next
    /// [`Self::bearer`] refreshes; a token another call already replaced is kept.
    pub async fn invalidate(&self, used: &Secret) {
        let mut token = self.token.lock().await;
        if let Some(t) = token.as_mut().filter(|t| &t.access == used) {
            t.expires_at = DateTime::<Utc>::MIN_UTC;
        }
    }

    fn grant_form(&self) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("client_id", self.client_id.0.clone()),
            ("client_secret", self.client_secret.0.clone()),
        ];
        match self.method {
            AuthMethod::OauthPassword => {
                form.push(("grant_type", "password".into()));
                form.push(("username", self.username.clone().unwrap_or_default()));
                form.push((
                    "password",
                    self.password
                        .as_ref()
                        .map(|p| p.0.clone())
                        .unwrap_or_default(),
                ));
            }
            AuthMethod::OauthRefreshToken => {
                form.push(("grant_type", "refresh_token".into()));
                form.push((
                    "refresh_token",
                    self.configured_refresh
                        .as_ref()
                        .map(|r| r.0.clone())
                        .unwrap_or_default(),
                ));
            }
            AuthMethod::OauthClientCredentials | AuthMethod::Basic => {
                form.push(("grant_type", "client_credentials".into()));
            }
        }
        form
    }

    fn refresh_form(&self, refresh: &Secret) -> Vec<(&'static str, String)> {
        vec![
            ("grant_type", "refresh_token".into()),
            ("client_id", self.client_id.0.clone()),
            ("client_secret", self.client_secret.0.clone()),
            ("refresh_token", refresh.0.clone()),
        ]
    }

    async fn request(&self, form: &[(&'static str, String)]) -> Result<Token, ConnectorError> {
        let grant = form
            .iter()
            .find(|(k, _)| *k == "grant_type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        tracing::debug!(grant, "ServiceNow OAuth token request");
        let response = self
            .http
            .post(self.token_url.clone())
            .form(form)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    ConnectorError::Timeout
                } else {
                    ConnectorError::Transport(format!(
                        "OAuth token request: {}",
                        psa_connector::http::transport_message(e)
                    ))
                }
            })?;
        let status = response.status();
        let retry_after = psa_connector::http::parse_retry_after(response.headers());
        let body = read_small(response).await?;
        if !status.is_success() {
            let reason = serde_json::from_slice::<TokenError>(&body)
                .ok()
                .map(|e| {
                    format!(
                        "{} ({})",
                        e.error.unwrap_or_default(),
                        e.error_description.unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            return Err(ConnectorError::Http {
                status: status.as_u16(),
                message: format!("OAuth {grant} grant refused by the instance: {reason}"),
                retry_after,
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            ConnectorError::InvalidResponse(format!("OAuth token answer is not readable: {e}"))
        })?;
        if answer.access_token.is_empty() {
            return Err(ConnectorError::InvalidResponse(
                "OAuth token answer has an empty access_token".into(),
            ));
        }
        let lifetime = answer
            .expires_in
            .as_ref()
            .and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .unwrap_or(1799)
            .clamp(0, 366 * 24 * 3600);
        Ok(Token {
            access: Secret(answer.access_token),
            refresh: answer.refresh_token.filter(|r| !r.is_empty()).map(Secret),
            expires_at: (self.clock)() + chrono::Duration::seconds(lifetime),
        })
    }
}

async fn read_small(mut response: reqwest::Response) -> Result<Vec<u8>, ConnectorError> {
    let too_large = || {
        ConnectorError::InvalidResponse(format!(
            "OAuth token answer larger than {MAX_TOKEN_BYTES} bytes"
        ))
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_TOKEN_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        ConnectorError::Transport(format!(
            "OAuth token answer: {}",
            psa_connector::http::transport_message(e)
        ))
    })? {
        if body.len() + chunk.len() > MAX_TOKEN_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
