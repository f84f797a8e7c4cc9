//! What a configuration reload (SIGHUP) changes, for `daemon::reload`:
//! the settings only a restart can apply, and which connections need their
//! connector rebuilt.
//!
//! Restart-only (a reload that changes one is refused, naming it, and the
//! running configuration stays): the store (`store_path`, `store_cache_mb`),
//! the listeners (`listen`, `admin_listen`, `metrics_listen`,
//! `header_read_timeout_secs`, `max_connections`), the admin API's
//! `admin_token` and `admin_hosts`, webhook registration (`public_url`,
//! `register_webhooks`) and `shutdown_timeout_secs`. Everything else applies
//! live: connections (added, removed, credentials, limits, timeouts, polling),
//! pairings and their mappings and triggers, `tick_ms`, `retry_for_hours` and
//! the webhook intake's limits.

use super::LoadedConfig;

/// The restart-only settings that differ between `old` and `new`, as
/// `daemon.NAME`; empty when a reload may apply `new`.
pub fn restart_only_changes(old: &LoadedConfig, new: &LoadedConfig) -> Vec<&'static str> {
    let (a, b) = (&old.config.daemon, &new.config.daemon);
    [
        ("daemon.store_path", old.store_path != new.store_path),
        (
            "daemon.store_cache_mb",
            a.store_cache_mb != b.store_cache_mb,
        ),
        ("daemon.listen", a.listen != b.listen),
        ("daemon.admin_listen", a.admin_listen != b.admin_listen),
        (
            "daemon.metrics_listen",
            a.metrics_listen != b.metrics_listen,
        ),
        (
            "daemon.header_read_timeout_secs",
            a.header_read_timeout_secs != b.header_read_timeout_secs,
        ),
        (
            "daemon.max_connections",
            a.max_connections != b.max_connections,
        ),
        ("daemon.admin_token", a.admin_token != b.admin_token),
        ("daemon.admin_hosts", a.admin_hosts != b.admin_hosts),
        ("daemon.public_url", a.public_url != b.public_url),
        (
            "daemon.register_webhooks",
            a.register_webhooks != b.register_webhooks,
        ),
        (
            "daemon.shutdown_timeout_secs",
            a.shutdown_timeout_secs != b.shutdown_timeout_secs,
        ),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// Keys of a connection's table that its workers read, not its connector.
const WORKER_KEYS: [&str; 4] = [
    "webhooks",
    "polling",
    "poll_interval_secs",
    "poll_overlap_secs",
];

/// Whether connection `name` needs a new connector under `new`: it is new,
/// or its vendor, credentials, URLs, limits or timeout changed. (Polling
/// and webhook switches only restart its workers.)
pub fn connector_changed(old: &LoadedConfig, new: &LoadedConfig, name: &str) -> bool {
    let table = |loaded: &LoadedConfig| {
        let mut table = loaded
            .tables
            .0
            .get("connections")
            .and_then(|c| c.get(name))
            .and_then(toml::Value::as_table)
            .cloned();
        if let Some(table) = &mut table {
            for key in WORKER_KEYS {
                table.remove(key);
            }
        }
        table
    };
    match (table(old), table(new)) {
        (Some(before), Some(after)) => before != after,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &std::path::Path, daemon: &str, credentials: &str) -> LoadedConfig {
        let path = dir.join("c.toml");
        let text = format!(
            "[daemon]\nstore_path = \"s\"\n{daemon}\n\
             [connections.at]\nvendor = \"autotask\"\npoll_interval_secs = 5\n\
             [connections.at.autotask]\napi_url = \"http://127.0.0.1:1/\"\n\
             username = \"u\"\nsecret = \"{credentials}\"\nintegration_code = \"c\"\n"
        );
        std::fs::write(&path, text).unwrap();
        crate::config::load(&path, &|_| None).unwrap()
    }

    #[test]
    fn names_each_restart_only_setting_and_spots_new_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let old = load(dir.path(), "", "one");
        let same = load(dir.path(), "tick_ms = 50\nretry_for_hours = 5", "one");
        assert!(restart_only_changes(&old, &same).is_empty());
        assert!(!connector_changed(&old, &same, "at"));

        let moved = load(
            dir.path(),
            "listen = \"127.0.0.1:1\"\nstore_cache_mb = 128",
            "two",
        );
        assert_eq!(
            restart_only_changes(&old, &moved),
            ["daemon.store_cache_mb", "daemon.listen"]
        );
        assert!(connector_changed(&old, &moved, "at"));
        assert!(connector_changed(&old, &moved, "unknown"));
        assert_ne!(old.digest, moved.digest);
        assert_eq!(format!("{:?}", moved.tables), "RawTables(<redacted>)");
    }
}

#[cfg(test)]
mod hostile_tests {
    /// A deeply nested file within the size cap is an error, not a stack overflow.
    #[test]
    fn deep_nesting_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let depth = 200_000;
        let text = format!("x = {}{}\n", "[".repeat(depth), "]".repeat(depth));
        std::fs::write(&path, text).unwrap();
        let error = crate::config::load(&path, &|_| None).unwrap_err();
        assert!(error.to_string().contains("c.toml"), "{error}");
    }
}
