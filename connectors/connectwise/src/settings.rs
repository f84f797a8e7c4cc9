//! Connection settings for one ConnectWise PSA (Manage) account, the default
//! rate limits, and the headers every API call carries.

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use psa_connector::{ConnectorError, RateLimits};
use url::Url;

/// The model version pinned in the `Accept` header when none is configured.
pub const DEFAULT_API_VERSION: &str = "2025.8";

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_string()
}

/// One ConnectWise API member's credentials and site.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectWiseSettings {
    /// Site root, e.g. "https://api-na.myconnectwise.net/". Discovery:
    /// `GET {site}login/companyinfo/{company_id}` → `Codebase`.
    pub site_url: String,
    pub company_id: String,
    pub public_key: String,
    pub private_key: String,
    pub client_id: String,
    /// Optional codebase ("v2025_1/"); when absent, discovered (lazily, cached).
    #[serde(default)]
    pub codebase: Option<String>,
    /// Model version for the Accept header; default "2025.8".
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Hosts (`host` or `host:port`) from which callback signing keys
    /// (`Metadata.key_url`) may be fetched. Default (when empty): the host of
    /// `site_url` and, for a ConnectWise cloud host, the web and API hosts of
    /// the same region (`na.`, `api-na.myconnectwise.net`); the region's
    /// sandbox host only when `site_url` is that sandbox host. Entries are
    /// normalised (case, trailing dot, a scheme and default port given by
    /// mistake); anything else than a host name is refused.
    #[serde(default)]
    pub callback_key_hosts: Vec<String>,
}

impl std::fmt::Debug for ConnectWiseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectWiseSettings")
            .field("site_url", &self.site_url)
            .field("company_id", &self.company_id)
            .field("public_key", &"<redacted>")
            .field("private_key", &"<redacted>")
            .field("client_id", &"<redacted>")
            .field("codebase", &self.codebase)
            .field("api_version", &self.api_version)
            .field("callback_key_hosts", &self.callback_key_hosts)
            .finish()
    }
}

/// ConnectWise's guide warns that more than ~1000 requests a minute will likely
/// be throttled: 10 per second with a burst of 10 stays well below.
pub fn default_limits() -> RateLimits {
    RateLimits {
        requests_per_second: 10,
        burst: 10,
        requests_per_hour: None,
        max_concurrent: 8,
    }
}

impl ConnectWiseSettings {
    /// The site root as a URL ending in `/`.
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

    /// Checks what can be checked without network.
    pub(crate) fn validate(&self) -> Result<(), ConnectorError> {
        self.site()?;
        for (name, value) in [
            ("company_id", &self.company_id),
            ("public_key", &self.public_key),
            ("private_key", &self.private_key),
            ("client_id", &self.client_id),
            ("api_version", &self.api_version),
        ] {
            if value.trim().is_empty() {
                return Err(ConnectorError::Config(format!("{name} must not be empty")));
            }
        }
        if let Some(codebase) = &self.codebase {
            normalize_codebase(codebase)?;
        }
        self.key_hosts()?;
        Ok(())
    }

    /// `Authorization`, `clientId` and `Accept` for every call.
    pub(crate) fn headers(&self) -> Result<HeaderMap, ConnectorError> {
        let credentials = format!(
            "{}+{}:{}",
            self.company_id, self.public_key, self.private_key
        );
        let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut auth = HeaderValue::from_str(&format!("Basic {basic}"))
            .map_err(|_| ConnectorError::Config("credentials are not valid header text".into()))?;
        auth.set_sensitive(true);
        let mut client_id = HeaderValue::from_str(self.client_id.trim())
            .map_err(|_| ConnectorError::Config("client_id is not valid header text".into()))?;
        client_id.set_sensitive(true);
        let accept = HeaderValue::from_str(&format!(
            "application/vnd.connectwise.com+json; version={}",
            self.api_version.trim()
        ))
        .map_err(|_| ConnectorError::Config("api_version is not valid header text".into()))?;
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, auth);
        headers.insert(HeaderName::from_static("clientid"), client_id);
        headers.insert(http::header::ACCEPT, accept);
        Ok(headers)
    }

    /// The hosts callback keys may come from: configured (normalised; every
    /// entry that is not a host name is listed in one error), else the
    /// site's host and the web and API hosts of its ConnectWise cloud region
    /// (callbacks name whichever served them; the sandbox host only for a
    /// sandbox site).
    pub(crate) fn key_hosts(&self) -> Result<Vec<String>, ConnectorError> {
        if !self.callback_key_hosts.is_empty() {
            let mut hosts = Vec::new();
            let mut wrong = Vec::new();
            for raw in &self.callback_key_hosts {
                match crate::hosts::normalize_key_host(raw) {
                    Ok(host) if hosts.contains(&host) => {}
                    Ok(host) => hosts.push(host),
                    Err(why) => wrong.push(format!("{raw:?} {why}")),
                }
            }
            if !wrong.is_empty() {
                return Err(ConnectorError::Config(format!(
                    "callback_key_hosts must be host names like \"api-na.myconnectwise.net\" \
                     or \"host:port\": {}",
                    wrong.join("; ")
                )));
            }
            return Ok(hosts);
        }
        let site = self.site()?;
        let host = site.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut hosts = crate::hosts::region_hosts(&host);
        if let (Some(port), Some(first)) = (site.port(), hosts.first_mut()) {
            *first = format!("{host}:{port}");
        }
        Ok(hosts)
    }
}

/// Codebases end in `/` and are one path segment ("v2025_1/", "v4_6_release/").
pub(crate) fn normalize_codebase(raw: &str) -> Result<String, ConnectorError> {
    let trimmed = raw.trim().trim_matches('/');
    if trimmed.is_empty()
        || !trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(ConnectorError::Config(format!(
            "codebase {raw:?} is not a single path segment like \"v2025_1/\""
        )));
    }
    Ok(format!("{trimmed}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ConnectWiseSettings {
        ConnectWiseSettings {
            site_url: "https://api-na.myconnectwise.net".into(),
            company_id: "demo".into(),
            public_key: "pub".into(),
            private_key: "very-secret".into(),
            client_id: "0b5e3d9a-6c1f-4a43-9b7e-2f1a1c2d3e4f".into(),
            codebase: None,
            api_version: DEFAULT_API_VERSION.into(),
            callback_key_hosts: vec![],
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut s = settings();
        s.public_key = "pubkey-7f3a9".into();
        for text in [format!("{s:?}"), format!("{s:#?}")] {
            assert!(!text.contains("pubkey-7f3a9"), "public_key in {text}");
            assert!(!text.contains("very-secret"), "private_key in {text}");
            assert!(!text.contains("0b5e3d9a"), "client_id in {text}");
            assert!(text.contains("api-na.myconnectwise.net"), "{text}");
        }
    }

    #[test]
    fn default_key_hosts_are_the_sites_region_without_its_sandbox() {
        assert_eq!(
            settings().key_hosts().unwrap(),
            vec!["api-na.myconnectwise.net", "na.myconnectwise.net"]
        );
        let mut sandbox = settings();
        sandbox.site_url = "https://sandbox-na.myconnectwise.net/".into();
        assert!(sandbox
            .key_hosts()
            .unwrap()
            .contains(&"sandbox-na.myconnectwise.net".to_string()));
        let mut explicit = settings();
        explicit.callback_key_hosts = vec!["sandbox-na.myconnectwise.net".into()];
        assert_eq!(
            explicit.key_hosts().unwrap(),
            vec!["sandbox-na.myconnectwise.net"]
        );
        let mut web = settings();
        web.site_url = "https://EU.myconnectwise.net/".into();
        let hosts = web.key_hosts().unwrap();
        assert!(
            hosts.contains(&"api-eu.myconnectwise.net".to_string()),
            "{hosts:?}"
        );
        assert!(!hosts.iter().any(|h| h.contains("-na.")), "{hosts:?}");
        let mut local = settings();
        local.site_url = "http://127.0.0.1:8080/".into();
        assert_eq!(local.key_hosts().unwrap(), vec!["127.0.0.1:8080"]);
        let mut pinned = settings();
        pinned.callback_key_hosts = vec![" Keys.Example:444 ".into()];
        assert_eq!(pinned.key_hosts().unwrap(), vec!["keys.example:444"]);
    }

    #[test]
    fn configured_key_hosts_are_normalised_on_load() {
        let mut s = settings();
        s.callback_key_hosts = vec![
            "https://API-NA.MyConnectWise.net/".into(),
            "api-na.myconnectwise.net.".into(),
            "na.myconnectwise.net:443".into(),
        ];
        s.validate().unwrap();
        assert_eq!(
            s.key_hosts().unwrap(),
            vec!["api-na.myconnectwise.net", "na.myconnectwise.net"]
        );
    }

    #[test]
    fn configured_key_hosts_that_are_not_hosts_are_refused_on_load() {
        let mut s = settings();
        s.callback_key_hosts = vec![
            "api-na.myconnectwise.net".into(),
            "*.myconnectwise.net".into(),
            "https://na.myconnectwise.net/v4_6_release/".into(),
        ];
        let Err(ConnectorError::Config(message)) = s.validate() else {
            panic!("bad callback_key_hosts accepted");
        };
        assert!(message.contains("callback_key_hosts"), "{message}");
        assert!(message.contains("\"*.myconnectwise.net\""), "{message}");
        assert!(message.contains("wildcards"), "{message}");
        assert!(message.contains("v4_6_release"), "{message}");
        assert!(message.contains("path"), "{message}");
        // The good entry is not listed as wrong.
        for says in ["is", "has"] {
            let listed = format!("\"api-na.myconnectwise.net\" {says}");
            assert!(!message.contains(&listed), "{message}");
        }
    }

    #[test]
    fn codebase_normalized() {
        assert_eq!(normalize_codebase("v2025_1").unwrap(), "v2025_1/");
        assert!(normalize_codebase("../x/").is_err());
    }
}
