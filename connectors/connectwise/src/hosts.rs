//! ConnectWise cloud host names: which hosts belong to one region (the web
//! host `na.myconnectwise.net`, the API host `api-na.myconnectwise.net`, the
//! sandbox `sandbox-na.myconnectwise.net`), the API host for a web host, and
//! configured host entries (`callback_key_hosts`) normalised or refused.
//!
//! Regions and the web → API mapping follow the vendor's developer guide
//! ("Cloud URLs") as public clients copy it: `na`, `eu`, `au`, `aus`, `za`
//! on `myconnectwise.net`, and `staging` on `connectwisedev.com`. Any other
//! host (on-premises) is a region of its own: only itself.

/// Domains of ConnectWise's cloud.
const CLOUD_DOMAINS: [&str; 2] = ["myconnectwise.net", "connectwisedev.com"];

/// The prefix of a cloud region's sandbox host.
const SANDBOX_PREFIX: &str = "sandbox-";

/// `(domain, region)` of a cloud host: `api-na.myconnectwise.net` →
/// `("myconnectwise.net", "na")`. `None` for any other host.
fn cloud_region(host: &str) -> Option<(&'static str, String)> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    for domain in CLOUD_DOMAINS {
        let Some(label) = host.strip_suffix(domain).and_then(|l| l.strip_suffix('.')) else {
            continue;
        };
        let region = label
            .strip_prefix("api-")
            .or_else(|| label.strip_prefix(SANDBOX_PREFIX))
            .unwrap_or(label);
        if !region.is_empty() && region.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Some((domain, region.to_string()));
        }
    }
    None
}

/// The hosts of the region `host` belongs to, `host` first: the web host and
/// the API host of a cloud region (and its sandbox host only when `host` is
/// that sandbox host: production never trusts the sandbox by default), or
/// only `host`.
pub(crate) fn region_hosts(host: &str) -> Vec<String> {
    let host = host.to_ascii_lowercase();
    let mut hosts = vec![host.clone()];
    if let Some((domain, region)) = cloud_region(&host) {
        for candidate in [
            format!("{region}.{domain}"),
            format!("api-{region}.{domain}"),
        ] {
            if !hosts.contains(&candidate) {
                hosts.push(candidate);
            }
        }
    }
    hosts
}

/// A `callback_key_hosts` entry as `host` or `host:port`: lower case, no
/// trailing dot, a scheme given by mistake dropped with its default port
/// (`https://API-NA.myconnectwise.net.:443/` → `api-na.myconnectwise.net`;
/// without a scheme, `:443` is the default). `Err` says what is wrong.
pub(crate) fn normalize_key_host(raw: &str) -> Result<String, String> {
    let entry = raw.trim();
    if entry.is_empty() {
        return Err("is empty".into());
    }
    let text = if entry.contains("://") {
        entry.to_string()
    } else {
        format!("https://{entry}")
    };
    let url = url::Url::parse(&text).map_err(|e| format!("is not a host name ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "has the scheme {:?}; give only the host",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("has user info; give only the host".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("has a path, query or fragment; give only the host".into());
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            };
            if !name.split('.').all(label_ok) {
                return Err(
                    "is not a host name (letters, digits, '-' and dots only; no wildcards)".into(),
                );
            }
            name.to_string()
        }
        Some(ip) => ip.to_string(),
        None => return Err("has no host".into()),
    };
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Whether `host` is a cloud region's sandbox host (`sandbox-na.myconnectwise.net`).
pub(crate) fn is_sandbox(host: &str) -> bool {
    cloud_region(host).is_some()
        && host
            .trim_end_matches('.')
            .to_ascii_lowercase()
            .starts_with(SANDBOX_PREFIX)
}

/// Whether two hosts are the same or of the same cloud region.
pub(crate) fn same_region(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || matches!((cloud_region(a), cloud_region(b)), (Some(x), Some(y)) if x == y)
}

/// The API host for a cloud web host (`na.myconnectwise.net` →
/// `api-na.myconnectwise.net`); any other host is returned unchanged.
pub(crate) fn api_host(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    match cloud_region(&lower) {
        Some((domain, region)) if lower == format!("{region}.{domain}") => {
            format!("api-{region}.{domain}")
        }
        _ => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_its_web_and_api_hosts_and_the_sandbox_only_for_itself() {
        let na = ["api-na.myconnectwise.net", "na.myconnectwise.net"];
        for host in na {
            let hosts = region_hosts(host);
            assert_eq!(hosts[0], host);
            for other in na {
                assert!(hosts.iter().any(|h| h == other), "{host} → {hosts:?}");
            }
            assert!(!hosts.iter().any(|h| h.contains("-eu")), "{hosts:?}");
            assert!(!hosts.iter().any(|h| h.contains("sandbox")), "{hosts:?}");
        }
        assert_eq!(
            region_hosts("api-eu.myconnectwise.net"),
            ["api-eu.myconnectwise.net", "eu.myconnectwise.net"]
        );
        // A sandbox site trusts its own sandbox host and its region's hosts.
        assert_eq!(
            region_hosts("sandbox-na.myconnectwise.net"),
            [
                "sandbox-na.myconnectwise.net",
                "na.myconnectwise.net",
                "api-na.myconnectwise.net"
            ]
        );
        assert!(region_hosts("API-AU.MyConnectWise.net").contains(&"au.myconnectwise.net".into()));
        assert!(region_hosts("staging.connectwisedev.com")
            .contains(&"api-staging.connectwisedev.com".into()));
        assert_eq!(region_hosts("cw.example.com"), ["cw.example.com"]);
        assert_eq!(region_hosts("127.0.0.1"), ["127.0.0.1"]);
        // Look-alikes are not ConnectWise.
        assert_eq!(
            region_hosts("na.myconnectwise.net.evil.example"),
            ["na.myconnectwise.net.evil.example"]
        );
        assert_eq!(
            region_hosts("evilmyconnectwise.net"),
            ["evilmyconnectwise.net"]
        );
        assert_eq!(
            region_hosts("a.b.myconnectwise.net"),
            ["a.b.myconnectwise.net"]
        );
    }

    #[test]
    fn key_host_entries_are_normalised() {
        for (raw, want) in [
            ("api-na.myconnectwise.net", "api-na.myconnectwise.net"),
            (" API-NA.MyConnectWise.net. ", "api-na.myconnectwise.net"),
            (
                "https://api-na.myconnectwise.net/",
                "api-na.myconnectwise.net",
            ),
            (
                "https://api-na.myconnectwise.net:443",
                "api-na.myconnectwise.net",
            ),
            ("api-na.myconnectwise.net:443", "api-na.myconnectwise.net"),
            ("http://cw.example.com:80/", "cw.example.com"),
            ("Keys.Example:444", "keys.example:444"),
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("127.0.0.1", "127.0.0.1"),
            ("[::1]:8080", "[::1]:8080"),
        ] {
            assert_eq!(normalize_key_host(raw).as_deref(), Ok(want), "{raw:?}");
        }
    }

    #[test]
    fn key_host_entries_that_are_not_hosts_are_refused() {
        for (raw, says) in [
            ("", "empty"),
            ("  ", "empty"),
            ("*.myconnectwise.net", "wildcards"),
            ("https://api-na.myconnectwise.net/v4_6_release/", "path"),
            ("api-na.myconnectwise.net/keys", "path"),
            ("api-na.myconnectwise.net?x=1", "query"),
            ("user@api-na.myconnectwise.net", "user info"),
            ("ftp://api-na.myconnectwise.net", "scheme"),
            ("api na.myconnectwise.net", "host name"),
            ("api-na..myconnectwise.net", "host name"),
            ("api-na.myconnectwise.net:99999", "host name"),
        ] {
            match normalize_key_host(raw) {
                Err(why) => assert!(why.contains(says), "{raw:?}: {why}"),
                Ok(host) => panic!("{raw:?} accepted as {host:?}"),
            }
        }
    }

    #[test]
    fn web_hosts_map_to_api_hosts() {
        assert_eq!(api_host("na.myconnectwise.net"), "api-na.myconnectwise.net");
        assert_eq!(api_host("za.myconnectwise.net"), "api-za.myconnectwise.net");
        assert_eq!(
            api_host("staging.connectwisedev.com"),
            "api-staging.connectwisedev.com"
        );
        assert_eq!(
            api_host("api-eu.myconnectwise.net"),
            "api-eu.myconnectwise.net"
        );
        assert_eq!(
            api_host("sandbox-na.myconnectwise.net"),
            "sandbox-na.myconnectwise.net"
        );
        assert_eq!(api_host("cw.example.com"), "cw.example.com");
    }

    #[test]
    fn sandbox_hosts_are_told_apart() {
        assert!(is_sandbox("sandbox-na.myconnectwise.net"));
        assert!(is_sandbox("SANDBOX-EU.myconnectwise.net."));
        assert!(!is_sandbox("api-na.myconnectwise.net"));
        assert!(!is_sandbox("sandbox-na.example.com"));
    }

    #[test]
    fn same_region_only_within_one_cloud_region() {
        assert!(same_region(
            "na.myconnectwise.net",
            "api-na.myconnectwise.net"
        ));
        assert!(same_region(
            "sandbox-na.myconnectwise.net",
            "api-na.myconnectwise.net"
        ));
        assert!(!same_region(
            "api-eu.myconnectwise.net",
            "api-na.myconnectwise.net"
        ));
        assert!(!same_region("cw.example.com", "api-na.myconnectwise.net"));
        assert!(same_region("127.0.0.1", "127.0.0.1"));
    }
}
