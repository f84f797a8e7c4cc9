//! Connection settings for one Jira Cloud site, the default rate limits,
//! and the headers every API call carries (Basic `email:api_token`).

use base64::Engine;
use http::{HeaderMap, HeaderValue};
use psa_connector::{ConnectorError, RateLimits};
use serde::Deserialize;
use url::Url;

/// One Jira Cloud site and project. `Debug` redacts the secrets.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSettings {
    /// The site, e.g. `https://acme.atlassian.net/`.
    pub site_url: String,
    /// The Atlassian account e-mail of the API user.
    pub email: String,
    /// An API token of that account.
    pub api_token: String,
    /// The project key the bridge reads and creates issues in (`HELP`).
    pub project: String,
    /// Issue type name for created issues; default: the project's first.
    #[serde(default)]
    pub issue_type: Option<String>,
    /// Secret of the admin webhook: registered with it, and every delivery's
    /// `X-Hub-Signature` is checked against it.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// Further fields (by name or id, e.g. "Customer Tier") read into
    /// `Ticket.fields`, besides `labels` and `resolution`.
    #[serde(default)]
    pub read_fields: Vec<String>,
    /// Treat comments of a software (non service desk) project as public.
    #[serde(default)]
    pub plain_comments_public: bool,
}

impl std::fmt::Debug for JiraSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraSettings")
            .field("site_url", &self.site_url)
            .field("email", &self.email)
            .field("api_token", &"<redacted>")
            .field("project", &self.project)
            .field("issue_type", &self.issue_type)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("read_fields", &self.read_fields)
            .field("plain_comments_public", &self.plain_comments_public)
            .finish()
    }
}

/// Jira Cloud's cost-based limits leave a single integration well under
/// 10 requests per second.
pub fn default_limits() -> RateLimits {
    RateLimits {
        requests_per_second: 10,
        burst: 10,
        requests_per_hour: None,
        max_concurrent: 5,
    }
}

impl JiraSettings {
    /// Settings with every optional value at its default.
    pub fn new(site_url: &str, email: &str, api_token: &str, project: &str) -> Self {
        Self {
            site_url: site_url.to_string(),
            email: email.to_string(),
            api_token: api_token.to_string(),
            project: project.to_string(),
            issue_type: None,
            webhook_secret: None,
            read_fields: Vec::new(),
            plain_comments_public: false,
        }
    }

    pub(crate) fn site(&self) -> Result<Url, ConnectorError> {
        let mut url = Url::parse(self.site_url.trim())
            .map_err(|e| ConnectorError::Config(format!("site_url {:?}: {e}", self.site_url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConnectorError::Config(format!(
                "site_url {:?} must be an http(s) URL with a host",
                self.site_url
            )));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        url.set_query(None);
        url.set_fragment(None);
        Ok(url)
    }

    pub(crate) fn validate(&self) -> Result<(), ConnectorError> {
        self.site()?;
        for (name, value) in [
            ("email", &self.email),
            ("api_token", &self.api_token),
            ("project", &self.project),
        ] {
            if value.trim().is_empty() {
                return Err(ConnectorError::Config(format!("{name} must not be empty")));
            }
        }
        if !self
            .project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ConnectorError::Config(format!(
                "project {:?} must be a project key like \"HELP\"",
                self.project
            )));
        }
        if self
            .webhook_secret
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(ConnectorError::Config(
                "webhook_secret must not be empty when set".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn headers(&self) -> Result<HeaderMap, ConnectorError> {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.email.trim(),
            self.api_token.trim()
        ));
        let mut auth = HeaderValue::from_str(&format!("Basic {basic}"))
            .map_err(|_| ConnectorError::Config("credentials are not valid header text".into()))?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, auth);
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let mut s = JiraSettings::new("https://acme.atlassian.net", "a@b.c", "tok-7f3a9", "HELP");
        s.webhook_secret = Some("hook-secret-42".into());
        let text = format!("{s:?}");
        assert!(!text.contains("tok-7f3a9"), "{text}");
        assert!(!text.contains("hook-secret-42"), "{text}");
        assert!(text.contains("acme.atlassian.net"), "{text}");
    }

    #[test]
    fn validation() {
        let ok = JiraSettings::new("https://acme.atlassian.net", "a@b.c", "t", "HELP");
        assert!(ok.validate().is_ok());
        assert_eq!(ok.site().unwrap().as_str(), "https://acme.atlassian.net/");
        let bad = JiraSettings::new("ftp://x", "a@b.c", "t", "HELP");
        assert!(bad.validate().is_err());
        let bad = JiraSettings::new("https://x", "a@b.c", "t", "HELP = 1 OR x");
        assert!(bad.validate().is_err());
        let unknown: Result<JiraSettings, _> = serde_json::from_str(
            r#"{"site_url":"https://x","email":"e","api_token":"t","project":"P","nope":1}"#,
        );
        assert!(unknown.is_err());
    }
}
