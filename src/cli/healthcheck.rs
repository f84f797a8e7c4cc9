//! `healthcheck`: asks the running daemon's admin listener for `/healthz`
//! (or `/readyz` with `--ready`) and exits 0 on a 200, 1 otherwise. It is the
//! container image's `HEALTHCHECK` (the image carries no curl) and works for
//! any supervisor that runs a command. The address is the one the daemon
//! recorded beside its store (`<store_path>.addr`), else `daemon.admin_listen`,
//! else `--url`. No token is needed: both paths are open.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::access::load_for_inspection;

/// How long the whole check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Which question the daemon is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The process is up and its tasks are running (`/healthz`).
    Live,
    /// It can do its job: store writable, vendors reachable (`/readyz`).
    Ready,
}

impl Probe {
    fn path(self) -> &'static str {
        match self {
            Probe::Live => "/healthz",
            Probe::Ready => "/readyz",
        }
    }
}

/// The admin base URL: `url` if given, else the address the daemon recorded,
/// else the configured `admin_listen`.
pub fn admin_base(config: Option<&Path>, url: Option<&str>) -> anyhow::Result<String> {
    if let Some(url) = url {
        let parsed = reqwest::Url::parse(url).with_context(|| format!("--url {url:?}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("--url {url:?}: only http:// and https:// are supported");
        }
        return Ok(url.trim_end_matches('/').to_string());
    }
    let config = config
        .ok_or_else(|| anyhow::anyhow!("give --config FILE (or PSA_BRIDGE_CONFIG) or --url"))?;
    let loaded = load_for_inspection(config)?;
    let recorded = std::fs::read_to_string(psa_bridge::daemon::address_file(&loaded.store_path))
        .ok()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    let addr = recorded.unwrap_or_else(|| loaded.config.daemon.admin_listen.to_string());
    Ok(format!("http://{}", loopback_for_unspecified(&addr)))
}

/// A daemon bound to `0.0.0.0:P` (all addresses) is asked on `127.0.0.1:P`.
fn loopback_for_unspecified(addr: &str) -> String {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(sock) if sock.ip().is_unspecified() => {
            let ip = match sock {
                std::net::SocketAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::SocketAddr::V6(_) => {
                    std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
                }
            };
            std::net::SocketAddr::new(ip, sock.port()).to_string()
        }
        _ => addr.to_string(),
    }
}

pub async fn healthcheck(
    config: Option<&Path>,
    url: Option<&str>,
    probe: Probe,
) -> anyhow::Result<ExitCode> {
    let base = admin_base(config, url)?;
    let target = format!("{base}{}", probe.path());
    let client = reqwest::Client::builder().timeout(CHECK_TIMEOUT).build()?;
    let response = match client.get(&target).send().await {
        Ok(response) => response,
        Err(e) => {
            println!("unhealthy: no answer from {target} ({e})");
            return Ok(ExitCode::FAILURE);
        }
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let state = body["status"].as_str().unwrap_or("unknown");
    if status.is_success() {
        println!("healthy: {target} answered {status} ({state})");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("unhealthy: {target} answered {status} ({state})");
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_bind_is_asked_on_loopback() {
        assert_eq!(loopback_for_unspecified("0.0.0.0:9180"), "127.0.0.1:9180");
        assert_eq!(loopback_for_unspecified("[::]:9180"), "[::1]:9180");
        assert_eq!(loopback_for_unspecified("127.0.0.1:9"), "127.0.0.1:9");
        assert_eq!(loopback_for_unspecified("10.0.0.5:9"), "10.0.0.5:9");
    }

    #[test]
    fn a_url_must_be_http() {
        let err = admin_base(None, Some("file:///etc/passwd")).unwrap_err();
        assert!(err.to_string().contains("only http"), "{err}");
        assert!(admin_base(None, Some("not a url")).is_err());
        assert!(admin_base(None, None)
            .unwrap_err()
            .to_string()
            .contains("--config"));
        assert_eq!(
            admin_base(None, Some("http://127.0.0.1:9180/")).unwrap(),
            "http://127.0.0.1:9180"
        );
    }
}
