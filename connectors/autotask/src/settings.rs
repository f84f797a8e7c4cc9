//! Connection settings for one Autotask account, as written in the daemon's
//! configuration, plus the default rate limits for Autotask.

use psa_connector::RateLimits;
use serde::Deserialize;

/// Settings of one Autotask connection. `Debug` redacts the secrets.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutotaskSettings {
    /// Zone discovery root; discovery calls `GET {this}v1.0/zoneInformation?user={username}`.
    #[serde(default = "default_zone_discovery_url")]
    pub zone_discovery_url: String,
    /// The zone's REST root (e.g. `https://webservices15.autotask.net/ATServicesRest/`);
    /// when set, discovery is skipped. `V1.0/` is appended.
    #[serde(default)]
    pub api_url: Option<String>,
    /// The API user's user name (an API-only resource in Autotask).
    pub username: String,
    /// The API user's secret.
    pub secret: String,
    /// The integration's tracking identifier (`ApiIntegrationCode` header).
    pub integration_code: String,
    /// Resource to act as (`ImpersonationResourceId` header).
    #[serde(default)]
    pub impersonation_resource_id: Option<i64>,
    /// SecretKey used when registering TicketWebhooks and verifying `X-Hook-Signature`.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// Name of the ticket UDF that holds the bridge's idempotency marker.
    #[serde(default = "default_marker_udf")]
    pub marker_udf: String,
    /// Note `publish` label used for `Visibility::Public`.
    #[serde(default = "default_public_publish_label")]
    pub public_publish_label: String,
    /// Note `publish` label used for `Visibility::Internal`.
    #[serde(default = "default_internal_publish_label")]
    pub internal_publish_label: String,
    /// `noteType` label for notes the bridge writes.
    #[serde(default = "default_note_type_label")]
    pub note_type_label: String,
    /// Resource id added to the webhooks' ExcludedResources (the bridge's own
    /// API user). When unset, the API user's resource is looked up by its
    /// user name (`Resources/query`, `userName` = `username`).
    #[serde(default)]
    pub webhook_excluded_resource_id: Option<i64>,
    /// The tenant-wide share of Autotask's hourly request threshold up to
    /// which the bridge runs at full speed (0 < share <= 1); past it the
    /// bridge slows down, and it pauses half-way to the threshold (at most
    /// at 95 %), so other integrations and the tenant are never locked out.
    #[serde(default = "default_budget_share")]
    pub api_budget_share: f64,
    /// Read `ThresholdInformation` again after this many calls …
    #[serde(default = "default_budget_check_calls")]
    pub api_budget_check_calls: u64,
    /// … or after this many seconds, whichever comes first (0: before every call).
    #[serde(default = "default_budget_check_secs")]
    pub api_budget_check_secs: u64,
}

fn default_budget_share() -> f64 {
    0.5
}
fn default_budget_check_calls() -> u64 {
    100
}
fn default_budget_check_secs() -> u64 {
    60
}

/// The vendor's global discovery host.
pub fn default_zone_discovery_url() -> String {
    "https://webservices2.autotask.net/atservicesrest/".to_string()
}
fn default_marker_udf() -> String {
    "PSA Bridge Ref".to_string()
}
fn default_public_publish_label() -> String {
    "All Autotask Users".to_string()
}
fn default_internal_publish_label() -> String {
    "Internal Project Team".to_string()
}
fn default_note_type_label() -> String {
    "Task Notes".to_string()
}

impl AutotaskSettings {
    /// Settings with every optional value at its default.
    pub fn new(username: &str, secret: &str, integration_code: &str) -> Self {
        Self {
            zone_discovery_url: default_zone_discovery_url(),
            api_url: None,
            username: username.to_string(),
            secret: secret.to_string(),
            integration_code: integration_code.to_string(),
            impersonation_resource_id: None,
            webhook_secret: None,
            marker_udf: default_marker_udf(),
            public_publish_label: default_public_publish_label(),
            internal_publish_label: default_internal_publish_label(),
            note_type_label: default_note_type_label(),
            webhook_excluded_resource_id: None,
            api_budget_share: default_budget_share(),
            api_budget_check_calls: default_budget_check_calls(),
            api_budget_check_secs: default_budget_check_secs(),
        }
    }
}

impl std::fmt::Debug for AutotaskSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("AutotaskSettings")
            .field("zone_discovery_url", &self.zone_discovery_url)
            .field("api_url", &self.api_url)
            .field("username", &self.username)
            .field("secret", &redacted(&self.secret))
            .field("integration_code", &redacted(&self.integration_code))
            .field("impersonation_resource_id", &self.impersonation_resource_id)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_deref().map(redacted),
            )
            .field("marker_udf", &self.marker_udf)
            .field("public_publish_label", &self.public_publish_label)
            .field("internal_publish_label", &self.internal_publish_label)
            .field("note_type_label", &self.note_type_label)
            .field(
                "webhook_excluded_resource_id",
                &self.webhook_excluded_resource_id,
            )
            .field("api_budget_share", &self.api_budget_share)
            .field("api_budget_check_calls", &self.api_budget_check_calls)
            .field("api_budget_check_secs", &self.api_budget_check_secs)
            .finish()
    }
}

/// Autotask's tenant-wide budget is 10,000 requests per rolling hour and 3
/// concurrent threads per integration and endpoint; stay well inside both.
pub fn default_limits() -> RateLimits {
    RateLimits {
        requests_per_second: 5,
        burst: 5,
        requests_per_hour: Some(9000),
        max_concurrent: 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let mut s = AutotaskSettings::new("api@example.com", "s3cr3t-value", "TRACKINGCODE");
        s.webhook_secret = Some("hook-secret-value".into());
        let text = format!("{s:?}");
        assert!(!text.contains("s3cr3t-value"));
        assert!(!text.contains("TRACKINGCODE"));
        assert!(!text.contains("hook-secret-value"));
        assert!(text.contains("api@example.com"));
    }

    #[test]
    fn defaults_apply_and_unknown_fields_are_refused() {
        let s: AutotaskSettings = serde_json::from_value(serde_json::json!({
            "username": "u", "secret": "s", "integration_code": "c"
        }))
        .unwrap();
        assert_eq!(s.marker_udf, "PSA Bridge Ref");
        assert_eq!(s.public_publish_label, "All Autotask Users");
        assert!(s.zone_discovery_url.ends_with("/atservicesrest/"));
        let bad = serde_json::from_value::<AutotaskSettings>(serde_json::json!({
            "username": "u", "secret": "s", "integration_code": "c", "scret": "x"
        }));
        assert!(bad.is_err());
    }
}
