//! The URL a vendor delivers a connection's webhooks to: `daemon.public_url`
//! (or `http://` + the bound listen address) + `/webhooks/{connection}`.
//! The daemon registers it at start-up, and `psa-bridge webhooks` uses the
//! same rule so both talk about the same hook.

use std::net::SocketAddr;

use crate::config::DaemonConfig;

/// The webhook URL of `connection`, for a daemon listening on `listen`.
pub fn webhook_url(config: &DaemonConfig, listen: SocketAddr, connection: &str) -> String {
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{listen}"));
    format!("{}/webhooks/{connection}", base.trim_end_matches('/'))
}

/// The webhook URL from the configuration alone (no listener bound): an
/// error when neither `public_url` nor a fixed listen port says it.
pub fn configured_webhook_url(config: &DaemonConfig, connection: &str) -> Result<String, String> {
    if config.public_url.is_none() && config.listen.port() == 0 {
        return Err(
            "daemon.public_url is not set and daemon.listen has no fixed port, so the webhook URL is unknown; set daemon.public_url"
                .into(),
        );
    }
    Ok(webhook_url(config, config.listen, connection))
}
