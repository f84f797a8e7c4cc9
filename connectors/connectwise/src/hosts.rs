//! ConnectWise cloud host names: which hosts belong to one region (the web
//! host `na.myconnectwise.net`, the API host `api-na.myconnectwise.net`, the
//! sandbox `sandbox-na.myconnectwise.net`), and the API host for a web host.
//!
//! Regions and the web → API mapping follow the vendor's developer guide
//! ("Cloud URLs") as public clients copy it: `na`, `eu`, `au`, `aus`, `za`
//! on `myconnectwise.net`, and `staging` on `connectwisedev.com`. Any other
//! host (on-premises) is a region of its own: only itself.

/// Domains of ConnectWise's cloud.
const CLOUD_DOMAINS: [&str; 2] = ["myconnectwise.net", "connectwisedev.com"];

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
            .or_else(|| label.strip_prefix("sandbox-"))
            .unwrap_or(label);
        if !region.is_empty() && region.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Some((domain, region.to_string()));
        }
    }
    None
}

/// Every host of the region `host` belongs to, `host` first: the web host,
/// the API host and the sandbox host of a cloud region, or only `host`.
pub(crate) fn region_hosts(host: &str) -> Vec<String> {
    let host = host.to_ascii_lowercase();
    let mut hosts = vec![host.clone()];
    if let Some((domain, region)) = cloud_region(&host) {
        for candidate in [
            format!("{region}.{domain}"),
            format!("api-{region}.{domain}"),
            format!("sandbox-{region}.{domain}"),
        ] {
            if !hosts.contains(&candidate) {
                hosts.push(candidate);
            }
        }
    }
    hosts
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
    fn a_region_is_its_web_api_and_sandbox_hosts() {
        let na = [
            "api-na.myconnectwise.net",
            "na.myconnectwise.net",
            "sandbox-na.myconnectwise.net",
        ];
        for host in na {
            let hosts = region_hosts(host);
            assert_eq!(hosts[0], host);
            for other in na {
                assert!(hosts.iter().any(|h| h == other), "{host} → {hosts:?}");
            }
            assert!(!hosts.iter().any(|h| h.contains("-eu")), "{hosts:?}");
        }
        assert_eq!(
            region_hosts("api-eu.myconnectwise.net"),
            [
                "api-eu.myconnectwise.net",
                "eu.myconnectwise.net",
                "sandbox-eu.myconnectwise.net"
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
