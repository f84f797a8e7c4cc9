//! Connection settings for one ServiceNow instance, as written in the
//! daemon's configuration, plus the default rate limits.

use std::collections::BTreeMap;

use psa_connector::RateLimits;
use serde::Deserialize;

/// How the connector authenticates.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with `username` / `password`.
    Basic,
    /// OAuth `password` grant (`client_id`, `client_secret`, `username`, `password`).
    OauthPassword,
    /// OAuth `client_credentials` grant (`client_id`, `client_secret`).
    OauthClientCredentials,
    /// OAuth `refresh_token` grant from a configured `refresh_token`.
    OauthRefreshToken,
}

/// An impact/urgency pair (values `1`..`3`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImpactUrgency {
    pub impact: u8,
    pub urgency: u8,
}

/// Settings of one ServiceNow connection. `Debug` redacts the secrets.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowSettings {
    /// `https://<instance>.service-now.com`.
    pub instance_url: String,
    /// The table tickets live in (`incident`, `sc_req_item`, a custom task table).
    #[serde(default = "default_table")]
    pub table: String,
    #[serde(default = "default_auth")]
    pub auth: AuthMethod,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// For `auth = "oauth_refresh_token"`.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Shared secret of the business rule that signs notifications.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// Priority (value `"1"`..`"5"` or its label) → the impact/urgency pair
    /// written for it. Instances change their matrix, so this is per connection.
    #[serde(default = "default_priority_matrix")]
    pub priority_matrix: BTreeMap<String, ImpactUrgency>,
    /// Fields a state needs before the instance's data policies accept it,
    /// by state label. A write to such a state without them fails permanently
    /// naming the missing field.
    #[serde(default = "default_state_requirements")]
    pub state_requirements: BTreeMap<String, Vec<String>>,
    /// State labels that count as closed.
    #[serde(default = "default_closed_states")]
    pub closed_states: Vec<String>,
    /// Written to `correlation_display` on incidents the bridge creates
    /// (unless the mapping sets it).
    #[serde(default = "default_correlation_display")]
    pub correlation_display: String,
}

fn default_table() -> String {
    "incident".into()
}
fn default_auth() -> AuthMethod {
    AuthMethod::Basic
}
fn default_correlation_display() -> String {
    "psa-bridge".into()
}

/// The platform's default matrix, one pair per priority.
pub fn default_priority_matrix() -> BTreeMap<String, ImpactUrgency> {
    [(1, 1, 1), (2, 1, 2), (3, 2, 2), (4, 2, 3), (5, 3, 3)]
        .into_iter()
        .map(|(p, impact, urgency)| (p.to_string(), ImpactUrgency { impact, urgency }))
        .collect()
}

/// On Hold needs `hold_reason`; Resolved and Closed need `close_code` and `close_notes`.
pub fn default_state_requirements() -> BTreeMap<String, Vec<String>> {
    let close = vec!["close_code".to_string(), "close_notes".to_string()];
    BTreeMap::from([
        ("On Hold".to_string(), vec!["hold_reason".to_string()]),
        ("Resolved".to_string(), close.clone()),
        ("Closed".to_string(), close),
    ])
}

fn default_closed_states() -> Vec<String> {
    ["Resolved", "Closed", "Canceled"]
        .into_iter()
        .map(String::from)
        .collect()
}

impl ServiceNowSettings {
    /// Basic-auth settings with every optional value at its default.
    pub fn basic(instance_url: &str, username: &str, password: &str) -> Self {
        Self {
            instance_url: instance_url.to_string(),
            table: default_table(),
            auth: AuthMethod::Basic,
            username: Some(username.to_string()),
            password: Some(password.to_string()),
            client_id: None,
            client_secret: None,
            refresh_token: None,
            webhook_secret: None,
            priority_matrix: default_priority_matrix(),
            state_requirements: default_state_requirements(),
            closed_states: default_closed_states(),
            correlation_display: default_correlation_display(),
        }
    }

    /// Checks that the settings the chosen auth method needs are present.
    pub fn validate(&self) -> Result<(), String> {
        url::Url::parse(&self.instance_url).map_err(|e| format!("instance_url: {e}"))?;
        if self.table.is_empty()
            || !self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!("table {:?} is not a table name", self.table));
        }
        let need: &[(&str, &Option<String>)] = match self.auth {
            AuthMethod::Basic => &[("username", &self.username), ("password", &self.password)],
            AuthMethod::OauthPassword => &[
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("username", &self.username),
                ("password", &self.password),
            ],
            AuthMethod::OauthClientCredentials => &[
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
            ],
            AuthMethod::OauthRefreshToken => &[
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("refresh_token", &self.refresh_token),
            ],
        };
        for (name, value) in need {
            if value.as_deref().is_none_or(|v| v.is_empty()) {
                return Err(format!("{name} is required for auth = {:?}", self.auth));
            }
        }
        for (priority, pair) in &self.priority_matrix {
            if !(1..=3).contains(&pair.impact) || !(1..=3).contains(&pair.urgency) {
                return Err(format!(
                    "priority_matrix.{priority}: impact and urgency must be 1, 2 or 3"
                ));
            }
        }
        if self.webhook_secret.as_ref().is_some_and(|s| s.is_empty()) {
            return Err("webhook_secret must not be empty when set".into());
        }
        Ok(())
    }
}

impl std::fmt::Debug for ServiceNowSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("ServiceNowSettings")
            .field("instance_url", &self.instance_url)
            .field("table", &self.table)
            .field("auth", &self.auth)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("priority_matrix", &self.priority_matrix)
            .field("state_requirements", &self.state_requirements)
            .field("closed_states", &self.closed_states)
            .field("correlation_display", &self.correlation_display)
            .finish()
    }
}

/// ServiceNow limits per admin-defined rules (often thousands per hour);
/// stay modest by default.
pub fn default_limits() -> RateLimits {
    RateLimits {
        requests_per_second: 5,
        burst: 5,
        requests_per_hour: None,
        max_concurrent: 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let mut s = ServiceNowSettings::basic("https://x.service-now.com", "u", "pw-secret-1");
        s.client_secret = Some("client-secret-2".into());
        s.refresh_token = Some("refresh-secret-3".into());
        s.webhook_secret = Some("hook-secret-4".into());
        let text = format!("{s:?}");
        for secret in [
            "pw-secret-1",
            "client-secret-2",
            "refresh-secret-3",
            "hook-secret-4",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn defaults_apply_and_unknown_fields_are_refused() {
        let s: ServiceNowSettings = serde_json::from_value(serde_json::json!({
            "instance_url": "https://x.service-now.com", "username": "u", "password": "p"
        }))
        .unwrap();
        assert_eq!(s.table, "incident");
        assert_eq!(s.auth, AuthMethod::Basic);
        assert_eq!(
            s.priority_matrix["2"],
            ImpactUrgency {
                impact: 1,
                urgency: 2
            }
        );
        s.validate().unwrap();
        let bad = serde_json::from_value::<ServiceNowSettings>(serde_json::json!({
            "instance_url": "https://x", "username": "u", "password": "p", "pasword": "x"
        }));
        assert!(bad.is_err());
        let oauth: ServiceNowSettings = serde_json::from_value(serde_json::json!({
            "instance_url": "https://x.service-now.com", "auth": "oauth_client_credentials", "client_id": "c"
        }))
        .unwrap();
        assert!(oauth.validate().unwrap_err().contains("client_secret"));
    }
}
