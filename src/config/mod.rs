//! The daemon's configuration: one TOML file naming connections, pairings,
//! mapping files, listen address and store path. [`load`] reads it with
//! `${ENV_VAR}` substitution, rejects unknown keys and reports every error
//! with file, line and field.

mod bounds;
pub mod categories;
pub mod changes;
pub mod companion;
mod env;
mod error;
mod hosts;
pub(crate) mod load;
pub mod mapping;
mod owner_checks;
pub mod owners;
pub use owner_checks::Picklists;
mod mapping_checks;
pub mod reverse;
pub mod scope;
pub mod targets;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use psa_autotask::AutotaskSettings;
use psa_connector::RateLimits;
use psa_connectwise::ConnectWiseSettings;
use psa_jira::JiraSettings;
use psa_servicenow::ServiceNowSettings;
use serde::Deserialize;
use toml::Spanned;

pub use error::ConfigError;
pub use load::{load, LoadedConfig, LoadedPairing};
pub use mapping::Mapping;

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub daemon: DaemonConfig,
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionConfig>,
    #[serde(default)]
    pub pairings: Vec<PairingConfig>,
}

/// `[daemon]`: process-wide settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Directory of the sled store (relative paths are relative to the config file).
    pub store_path: PathBuf,
    /// Address of the webhook receiver (`POST /webhooks/{connection}`, `/healthz`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Address of the admin API (`/api/v1/...`, `/metrics`, `/healthz`) the CLI
    /// uses while the daemon runs. Keep it on loopback or a private network:
    /// it shows ticket contents and can re-queue operations. A non-loopback
    /// address needs `admin_token`.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// Bearer token for `/api/v1/...`. When unset, the daemon generates one on
    /// first start into `<store_path>.token` (owner-only), which the CLI reads.
    #[serde(default)]
    pub admin_token: Option<AdminToken>,
    /// Extra host names the admin API answers to (the `Host` header), besides
    /// `localhost` and the listener's own address; others get 421 (DNS rebinding).
    #[serde(default)]
    pub admin_hosts: Vec<String>,
    /// Serve `/metrics` (and `/healthz`, `/readyz`) on this separate, unauthenticated
    /// listener instead of the admin listener.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// URL the vendors reach this daemon at, used to register webhooks;
    /// defaults to `http://` + the bound listen address (fine on loopback only).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Register webhooks/callbacks with each vendor at start-up (needs `public_url`).
    #[serde(default)]
    pub register_webhooks: bool,
    /// Largest webhook body accepted; larger bodies get 413.
    #[serde(default = "default_max_webhook_bytes")]
    pub max_webhook_bytes: usize,
    /// Seconds a webhook sender has to deliver the whole body; slower
    /// senders get 408 and are disconnected.
    #[serde(default = "default_webhook_read_timeout_secs")]
    pub webhook_read_timeout_secs: u64,
    /// Webhook requests handled at once; more get 503 with `Retry-After`.
    #[serde(default = "default_max_concurrent_webhooks")]
    pub max_concurrent_webhooks: usize,
    /// Seconds a client has to send a request's head (request line and
    /// headers) on any listener; also the longest a keep-alive connection
    /// may sit idle. Slower clients are disconnected.
    #[serde(default = "default_header_read_timeout_secs")]
    pub header_read_timeout_secs: u64,
    /// Connections open at once per listener (webhooks, admin, metrics);
    /// further connections are closed as soon as they are accepted.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How often delivery workers look for due operations when not woken.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// How long a failing operation is retried (from its first failure)
    /// before it becomes a dead letter; 1 to 8784 (a year).
    #[serde(default = "default_retry_for_hours")]
    pub retry_for_hours: u64,
    /// Seconds a stopping daemon (SIGTERM, Ctrl-C) may take: in-flight
    /// deliveries may finish within it, then are left in the outbox (looked
    /// up by marker before any repeat on the next start); 1 to 3600.
    #[serde(default = "default_shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,
    /// Memory the store may use to cache its pages, in MiB; 8 to 16384.
    /// The process's resident memory grows with the stored data until the
    /// cache is full, then stays level.
    #[serde(default = "default_store_cache_mb")]
    pub store_cache_mb: u64,
}

/// The admin API's bearer token from the configuration; `Debug` never shows it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct AdminToken(pub String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9180))
}
fn default_max_webhook_bytes() -> usize {
    256 * 1024
}
fn default_webhook_read_timeout_secs() -> u64 {
    10
}
fn default_max_concurrent_webhooks() -> usize {
    64
}
fn default_header_read_timeout_secs() -> u64 {
    10
}
fn default_max_connections() -> usize {
    1024
}
fn default_tick_ms() -> u64 {
    200
}
fn default_shutdown_timeout_secs() -> u64 {
    30
}
fn default_store_cache_mb() -> u64 {
    crate::store::DEFAULT_CACHE_MB
}
fn default_retry_for_hours() -> u64 {
    crate::retry::DEFAULT_RETRY_FOR_HOURS
}

/// The vendor of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    Autotask,
    Connectwise,
    Servicenow,
    Jira,
}

impl Vendor {
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Autotask => "autotask",
            Vendor::Connectwise => "connectwise",
            Vendor::Servicenow => "servicenow",
            Vendor::Jira => "jira",
        }
    }
}

/// `[connections.NAME]`: one account on one vendor system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    pub vendor: Spanned<Vendor>,
    /// Accept webhooks for this connection.
    #[serde(default = "yes")]
    pub webhooks: bool,
    /// Poll for changes (on by default even with webhooks: vendors drop callbacks).
    #[serde(default = "yes")]
    pub polling: bool,
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
    /// How far back each poll reaches before the cursor, to catch late writes.
    #[serde(default = "default_poll_overlap")]
    pub poll_overlap_secs: u64,
    /// Seconds between checks that the vendor still has this connection's
    /// webhook active (with `daemon.register_webhooks`): a missing or
    /// deactivated one is registered again and the gap is polled.
    #[serde(default = "default_webhook_check_interval")]
    pub webhook_check_interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Request limits; the vendor's defaults when omitted.
    #[serde(default)]
    pub limits: Option<RateLimits>,
    /// Settings when `vendor = "autotask"`.
    #[serde(default)]
    pub autotask: Option<AutotaskSettings>,
    /// Settings when `vendor = "connectwise"`.
    #[serde(default)]
    pub connectwise: Option<ConnectWiseSettings>,
    /// Settings when `vendor = "servicenow"`.
    #[serde(default)]
    pub servicenow: Option<ServiceNowSettings>,
    /// Settings when `vendor = "jira"`.
    #[serde(default)]
    pub jira: Option<JiraSettings>,
}

impl ConnectionConfig {
    /// The vendors whose settings table this connection has.
    pub fn settings_tables(&self) -> Vec<Vendor> {
        [
            (Vendor::Autotask, self.autotask.is_some()),
            (Vendor::Connectwise, self.connectwise.is_some()),
            (Vendor::Servicenow, self.servicenow.is_some()),
            (Vendor::Jira, self.jira.is_some()),
        ]
        .into_iter()
        .filter_map(|(vendor, present)| present.then_some(vendor))
        .collect()
    }
}

fn yes() -> bool {
    true
}
fn default_poll_interval() -> u64 {
    60
}
fn default_webhook_check_interval() -> u64 {
    600
}
fn default_poll_overlap() -> u64 {
    120
}
fn default_timeout() -> u64 {
    30
}

/// `[[pairings]]`: two connections and the mapping between them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingConfig {
    pub name: Spanned<String>,
    /// Connection on side a (usually the internal team).
    pub a: Spanned<String>,
    /// Connection on side b (usually the MSP).
    pub b: Spanned<String>,
    /// Mapping file, relative to the config file.
    pub mapping: Spanned<PathBuf>,
}

#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod example_tests;
#[cfg(test)]
mod scope_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trigger_tests;
