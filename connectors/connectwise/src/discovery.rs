//! Where the API lives: `login/companyinfo/{companyId}` on the configured
//! site names the `Codebase` and the `SiteUrl`, so a site configured as the
//! web host (`na.myconnectwise.net`) still reaches the API host
//! (`api-na.myconnectwise.net`). A `SiteUrl` outside the configured host's
//! cloud region is ignored (credentials never follow an arbitrary host), and
//! so is one on the region's sandbox host unless the configured site is that
//! sandbox (production credentials never go to the sandbox).

use http::Method;
use psa_connector::ConnectorError;
use url::Url;

use crate::api::CompanyInfo;
use crate::client::ConnectWiseConnector;
use crate::hosts::{api_host, is_sandbox, same_region};
use crate::settings::normalize_codebase;

/// The URL API calls go to: `site_url` or the companyinfo `SiteUrl` (same
/// host or cloud region only), with a cloud web host replaced by its API host.
pub(crate) fn api_base(site: &Url, site_url_field: Option<&str>) -> Url {
    let mut base = site.clone();
    if let Some(candidate) = site_url_field.and_then(|raw| parse_site_url(site, raw)) {
        let site_host = site.host_str().unwrap_or_default();
        let host = candidate.host_str().unwrap_or_default();
        let downgrade = site.scheme() == "https" && candidate.scheme() != "https";
        let into_sandbox = is_sandbox(host) && !is_sandbox(site_host);
        if !downgrade && !into_sandbox && same_region(site_host, host) {
            base = candidate;
        } else {
            tracing::warn!(
                site_url = %candidate,
                configured = site_host,
                "companyinfo SiteUrl is not on the configured host or its ConnectWise region (or is its sandbox); ignored"
            );
        }
    }
    if let Some(host) = base.host_str().map(api_host) {
        if Some(host.as_str()) != base.host_str() && base.set_host(Some(&host)).is_ok() {
            tracing::info!(%host, "using the ConnectWise API host for the configured web host");
        }
    }
    base
}

/// `SiteUrl` as a bare host (`api-na.myconnectwise.net`) or a URL.
fn parse_site_url(site: &Url, raw: &str) -> Option<Url> {
    let raw = raw.trim().trim_end_matches('/');
    if raw.is_empty() {
        return None;
    }
    let text = if raw.contains("://") {
        format!("{raw}/")
    } else {
        format!("{}://{raw}/", site.scheme())
    };
    let url = Url::parse(&text).ok()?;
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    usable.then_some(url)
}

/// `{base}{codebase}apis/3.0/`.
pub(crate) fn api_root(base: &Url, codebase: &str) -> Result<Url, ConnectorError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(&format!("{codebase}apis/3.0/"))
        .map_err(|e| ConnectorError::Config(format!("API root from codebase {codebase:?}: {e}")))
}

impl ConnectWiseConnector {
    /// The API root, discovered once from `login/companyinfo/{companyId}`
    /// unless a codebase is configured.
    pub(crate) async fn api_root(&self) -> Result<&Url, ConnectorError> {
        self.api
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
                let base = api_base(self.http.base(), info.site_url.as_deref());
                let root = api_root(&base, &codebase)?;
                tracing::info!(api = %root, "discovered the ConnectWise API root");
                Ok(root)
            })
            .await
    }

    /// `{api root}{path}` with query pairs.
    pub(crate) async fn api_url(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Url, ConnectorError> {
        let root = self.api_root().await?;
        let mut url = root
            .join(path.trim_start_matches('/'))
            .map_err(|e| ConnectorError::Config(format!("bad path {path:?}: {e}")))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(site: &str, field: Option<&str>) -> String {
        api_base(&Url::parse(site).unwrap(), field).to_string()
    }

    #[test]
    fn the_web_host_reaches_the_api_host() {
        assert_eq!(
            base("https://na.myconnectwise.net/", None),
            "https://api-na.myconnectwise.net/"
        );
        assert_eq!(
            base(
                "https://na.myconnectwise.net/",
                Some("api-na.myconnectwise.net")
            ),
            "https://api-na.myconnectwise.net/"
        );
        assert_eq!(
            base(
                "https://na.myconnectwise.net/",
                Some("na.myconnectwise.net")
            ),
            "https://api-na.myconnectwise.net/"
        );
        assert_eq!(
            base(
                "https://sandbox-eu.myconnectwise.net/",
                Some("https://api-eu.myconnectwise.net")
            ),
            "https://api-eu.myconnectwise.net/"
        );
        assert_eq!(
            base(
                "https://sandbox-eu.myconnectwise.net/",
                Some("sandbox-eu.myconnectwise.net")
            ),
            "https://sandbox-eu.myconnectwise.net/"
        );
        assert_eq!(
            base("https://cw.example.com/", Some("cw.example.com")),
            "https://cw.example.com/"
        );
        assert_eq!(
            base("http://127.0.0.1:9/", Some("127.0.0.1:7")),
            "http://127.0.0.1:7/"
        );
    }

    #[test]
    fn a_site_url_elsewhere_is_ignored() {
        for field in [
            "evil.example",
            "https://api-eu.myconnectwise.net",
            "http://api-na.myconnectwise.net",
            "https://user@api-na.myconnectwise.net",
            "https://api-na.myconnectwise.net/x?y",
            "https://sandbox-na.myconnectwise.net",
            "",
        ] {
            assert_eq!(
                base("https://api-na.myconnectwise.net/", Some(field)),
                "https://api-na.myconnectwise.net/",
                "{field}"
            );
        }
    }

    #[test]
    fn api_root_appends_codebase() {
        let b = Url::parse("https://cw.example.com/manage").unwrap();
        assert_eq!(
            api_root(&b, "v4_6_release/").unwrap().as_str(),
            "https://cw.example.com/manage/v4_6_release/apis/3.0/"
        );
    }
}
