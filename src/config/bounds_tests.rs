//! Hostile numbers in the configuration are refused with the key, the value,
//! the allowed range and the key's own line; `admin_hosts` is normalised.

use super::load;
use super::tests::{example, example_env, write, MAPPING};

/// Sets `key = value` in `table` of the example (replacing the table's own
/// line when it has one, else right after the header) and loads it.
fn load_with(
    table: &str,
    key: &str,
    value: &str,
) -> (String, Result<super::LoadedConfig, super::ConfigError>) {
    let text = example();
    let header = format!("[{table}]\n");
    let (before, rest) = text.split_once(&header).expect("table in the example");
    let body_end = rest.find("\n[").map_or(rest.len(), |i| i + 1);
    let (body, after) = rest.split_at(body_end);
    let setting = format!("{key} = {value}\n");
    let prefix = format!("{key} =");
    let body = if body.lines().any(|l| l.starts_with(&prefix)) {
        body.split_inclusive('\n')
            .map(|l| {
                if l.starts_with(&prefix) {
                    setting.as_str()
                } else {
                    l
                }
            })
            .collect::<String>()
    } else {
        format!("{setting}{body}")
    };
    let out = format!("{before}{header}{body}{after}");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &out, MAPPING);
    let loaded = load(&path, &example_env);
    (out, loaded)
}

fn line_of_key(text: &str, table: &str, key: &str) -> usize {
    let header = format!("[{table}]");
    let start = text.lines().position(|l| l == header).unwrap();
    start
        + text
            .lines()
            .skip(start)
            .position(|l| l.starts_with(&format!("{key} =")))
            .unwrap()
        + 1
}

/// The largest integer TOML has (`i64::MAX`); u64::MAX is not a TOML integer.
const HUGE: &str = "9223372036854775807";

#[test]
fn hostile_daemon_numbers_are_refused_with_key_value_and_range() {
    for (key, bad) in [
        ("max_connections", HUGE),
        ("max_connections", "0"),
        ("max_concurrent_webhooks", HUGE),
        ("max_concurrent_webhooks", "2305843009213693952"), // Semaphore::MAX_PERMITS + 1
        ("header_read_timeout_secs", HUGE),
        ("header_read_timeout_secs", "0"),
        ("webhook_read_timeout_secs", HUGE),
        ("max_webhook_bytes", HUGE),
        ("max_webhook_bytes", "0"),
        ("tick_ms", HUGE),
        ("tick_ms", "0"),
        ("shutdown_timeout_secs", "0"),
        ("shutdown_timeout_secs", "3601"),
        ("shutdown_timeout_secs", HUGE),
        ("store_cache_mb", "7"),
        ("store_cache_mb", "16385"),
        ("store_cache_mb", HUGE),
    ] {
        let (text, result) = load_with("daemon", key, bad);
        let err = result.expect_err(&format!("{key} = {bad} accepted"));
        let msg = err.to_string();
        assert_eq!(err.field, format!("daemon.{key}"), "{msg}");
        assert!(msg.contains(bad) && msg.contains("allowed"), "{msg}");
        assert_eq!(err.line, Some(line_of_key(&text, "daemon", key)), "{msg}");
    }
}

#[test]
fn hostile_connection_numbers_are_refused_at_their_own_line() {
    let table = "connections.msp-connectwise";
    for (key, bad) in [
        ("poll_interval_secs", HUGE),
        ("poll_interval_secs", "0"),
        ("poll_overlap_secs", HUGE),
        ("poll_overlap_secs", "604801"),
        ("timeout_secs", HUGE),
        ("timeout_secs", "0"),
    ] {
        let (text, result) = load_with(table, key, bad);
        let err = result.expect_err(&format!("{key} = {bad} accepted"));
        let msg = err.to_string();
        assert_eq!(err.field, format!("{table}.{key}"), "{msg}");
        assert!(msg.contains(bad) && msg.contains("allowed"), "{msg}");
        assert_eq!(err.line, Some(line_of_key(&text, table, key)), "{msg}");
    }
    let (text, result) = load_with(
        table,
        "limits",
        "{ requests_per_second = 10, burst = 10, max_concurrent = 4294967295 }",
    );
    let err = result.unwrap_err();
    assert_eq!(err.field, format!("{table}.limits.max_concurrent"), "{err}");
    assert_eq!(err.line, Some(line_of_key(&text, table, "limits")), "{err}");
}

#[test]
fn sane_values_at_the_edges_load() {
    for (key, ok) in [
        ("max_connections", "100000"),
        ("header_read_timeout_secs", "3600"),
        ("tick_ms", "10"),
        ("max_webhook_bytes", "1024"),
        ("shutdown_timeout_secs", "1"),
        ("shutdown_timeout_secs", "3600"),
        ("store_cache_mb", "8"),
        ("store_cache_mb", "16384"),
    ] {
        let (_, result) = load_with("daemon", key, ok);
        result.unwrap_or_else(|e| panic!("{key} = {ok}: {e}"));
    }
}

#[test]
fn admin_hosts_are_normalised_and_invalid_entries_refused() {
    let (_, result) = load_with(
        "daemon",
        "admin_hosts",
        r#"["Bridge-Admin.Internal.", "bridge-admin.internal:9180", "[::1]:9180"]"#,
    );
    let hosts = result.unwrap().config.daemon.admin_hosts;
    assert_eq!(
        hosts,
        vec!["bridge-admin.internal", "bridge-admin.internal", "::1"]
    );
    let (text, result) = load_with("daemon", "admin_hosts", r#"["https://bridge.example.com"]"#);
    let err = result.unwrap_err();
    assert_eq!(err.field, "daemon.admin_hosts", "{err}");
    assert!(err.message.contains("https://bridge.example.com"), "{err}");
    assert_eq!(err.line, Some(line_of_key(&text, "daemon", "admin_hosts")));
}

#[test]
fn a_zero_mapping_length_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = MAPPING.replacen("max_length_b = 100", "max_length_b = 0", 1);
    assert_ne!(mapping, MAPPING);
    let path = write(dir.path(), &example(), &mapping);
    let err = load(&path, &example_env).unwrap_err();
    assert_eq!(err.field, "fields[0].max_length_b", "{err}");
    assert!(err.file.ends_with("autotask-to-connectwise.toml"), "{err}");
}
