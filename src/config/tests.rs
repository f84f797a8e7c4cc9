//! Configuration loading: every error names file, line and field.

use std::path::{Path, PathBuf};

use super::load;

pub(super) const MAPPING: &str = include_str!("../../mappings/autotask-to-connectwise.toml");

pub(super) fn example_env(name: &str) -> Option<String> {
    Some(format!("value-of-{name}"))
}

pub(super) fn write(dir: &Path, config: &str, mapping: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("mappings")).unwrap();
    std::fs::write(dir.join("mappings/autotask-to-connectwise.toml"), mapping).unwrap();
    let path = dir.join("bridge.toml");
    std::fs::write(&path, config).unwrap();
    path
}

pub(super) fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/psa-bridge.example.toml"
    ))
    .unwrap()
}

#[test]
fn example_config_and_mapping_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &example(), MAPPING);
    let loaded = load(&path, &example_env).unwrap();
    assert_eq!(loaded.pairings.len(), 1);
    assert_eq!(loaded.pairings[0].mapping.fields.len(), 3);
    assert!(loaded.store_path.starts_with(dir.path()));
    let at = loaded.config.connections["internal-autotask"]
        .autotask
        .as_ref()
        .unwrap();
    assert_eq!(at.secret, "value-of-AUTOTASK_SECRET");
}

#[test]
fn unknown_key_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = example().replace("tick_ms = 200", "tick_ms = 200\ncolour = \"blue\"");
    let path = write(dir.path(), &text, MAPPING);
    let err = load(&path, &example_env).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    assert!(msg.contains("unknown field `colour`"), "{msg}");
    let line = text.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    assert_eq!(err.line, Some(line), "{msg}");
    assert_eq!(err.field, "daemon.colour", "{msg}");
}

#[test]
fn unknown_key_in_vendor_settings_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let text = example().replace(
        "marker_udf = \"PSA Bridge Ref\"",
        "marker_udf = \"PSA Bridge Ref\"\npasword = \"x\"",
    );
    let path = write(dir.path(), &text, MAPPING);
    let err = load(&path, &example_env).unwrap_err();
    assert!(err.to_string().contains("pasword"), "{err}");
    assert!(err.field.contains("internal-autotask"), "{err}");
    assert!(err.line.is_some());
}

#[test]
fn missing_secret_variable_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &example(), MAPPING);
    let env = |name: &str| (name != "CW_PRIVATE_KEY").then(|| "x".to_string());
    let err = load(&path, &env).unwrap_err();
    assert_eq!(
        err.field,
        "connections.msp-connectwise.connectwise.private_key"
    );
    assert!(
        err.to_string().contains("CW_PRIVATE_KEY is not set"),
        "{err}"
    );
    let line = example()
        .lines()
        .position(|l| l.contains("${CW_PRIVATE_KEY}"))
        .unwrap()
        + 1;
    assert_eq!(err.line, Some(line));
}

#[test]
fn unknown_vendor_lists_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let text = example().replace("vendor = \"connectwise\"", "vendor = \"halopsa\"");
    let path = write(dir.path(), &text, MAPPING);
    let err = load(&path, &example_env).unwrap_err().to_string();
    assert!(
        err.contains("autotask") && err.contains("connectwise"),
        "{err}"
    );
}

#[test]
fn pairing_with_unknown_connection_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let text = example().replace("b = \"msp-connectwise\"", "b = \"msp-cw\"");
    let path = write(dir.path(), &text, MAPPING);
    let err = load(&path, &example_env).unwrap_err();
    assert_eq!(err.field, "pairings[0].b");
    assert!(
        err.to_string()
            .contains("configured: internal-autotask, msp-connectwise"),
        "{err}"
    );
}

#[test]
fn mapping_errors_name_the_mapping_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = MAPPING.replace("owner = \"b\"", "owner = \"msp\"");
    let path = write(dir.path(), &example(), &bad);
    let err = load(&path, &example_env).unwrap_err();
    assert!(
        err.file.ends_with("mappings/autotask-to-connectwise.toml"),
        "{err}"
    );
    assert!(err.field.contains("fields[1].owner"), "{err}");
    assert!(err.line.is_some());

    // The priority rule with its value map emptied: status and priority
    // labels differ per tenant, so an empty map is refused by name.
    let start = MAPPING.find("name = \"priority\"").unwrap();
    let values_at = start + MAPPING[start..].find("values = [").unwrap();
    let values_end = values_at + MAPPING[values_at..].find("\n]\n").unwrap() + 3;
    let no_values = format!(
        "{}values = []\n{}",
        &MAPPING[..values_at],
        &MAPPING[values_end..]
    );
    assert!(!no_values.contains("Priority 1 - Emergency Response"));
    let path = write(dir.path(), &example(), &no_values);
    let err = load(&path, &example_env).unwrap_err();
    assert_eq!(err.field, "fields[2].values", "{err}");
    assert!(err.to_string().contains("value map"), "{err}");
}

#[test]
fn hostile_config_text_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "\u{0}\u{1}garbage",
        "[daemon",
        "[daemon]\nstore_path = 5",
        &"[".repeat(10_000),
        "a = \"${UNTERMINATED",
    ] {
        let path = write(dir.path(), text, MAPPING);
        assert!(load(&path, &example_env).is_err(), "{text:?}");
    }
    let huge = format!(
        "[daemon]\nstore_path = \"{}\"\nbogus = 1\n",
        "x".repeat(1_000_000)
    );
    let path = write(dir.path(), &huge, MAPPING);
    let err = load(&path, &example_env).unwrap_err();
    assert_eq!(err.line, Some(3));
}

#[test]
fn value_maps_translate_both_ways_and_truncate() {
    use crate::config::mapping::{truncate, Direction, Mapping};
    use crate::store::Side;
    let mapping: Mapping = toml::from_str(MAPPING).unwrap();
    let status = mapping.field("status").unwrap();
    assert_eq!(
        status.translate(Side::A, "Complete").as_deref(),
        Some(">Closed")
    );
    assert_eq!(
        status.translate(Side::B, "Resolved").as_deref(),
        Some("Complete")
    );
    assert_eq!(
        status.translate(Side::B, ">Closed").as_deref(),
        Some("Complete")
    );
    assert_eq!(status.translate(Side::A, "Unmapped"), None);
    let title = mapping.field("title").unwrap();
    let long = "é".repeat(150);
    assert_eq!(
        title.translate(Side::A, &long).unwrap().chars().count(),
        100
    );
    assert_eq!(
        title.translate(Side::B, &long).unwrap().chars().count(),
        150
    );
    assert_eq!(truncate("abc", Some(2)), "ab");
    assert!(Direction::Both.allows(Side::A) && Direction::Both.allows(Side::B));
    assert!(Direction::AToB.allows(Side::A) && !Direction::AToB.allows(Side::B));
    assert!(!Direction::None.allows(Side::A));
    assert_eq!(
        mapping.comments.internal,
        Direction::None,
        "internal notes are denied by default"
    );
}

#[test]
fn mapping_defaults_deny_internal_notes() {
    let minimal: super::Mapping =
        toml::from_str("[trigger]\nside = \"a\"\nqueue = \"Escalate\"\n").unwrap();
    assert_eq!(minimal.comments.internal, super::mapping::Direction::None);
    assert_eq!(minimal.comments.public, super::mapping::Direction::Both);
}

#[test]
fn hostile_mapping_text_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let long_label = format!(
        "[trigger]\nside = \"a\"\nqueue = \"{}\"\nbogus = 1\n",
        "q".repeat(1_000_000)
    );
    for text in [
        "",
        "\u{0}",
        "[trigger]\nside = \"c\"\nqueue = \"x\"",
        "[[fields]]\nname = 5",
        long_label.as_str(),
    ] {
        let path = write(dir.path(), &example(), text);
        let err = load(&path, &example_env).unwrap_err();
        assert!(err.file.ends_with("autotask-to-connectwise.toml"), "{err}");
    }
}

#[test]
fn retry_period_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &example(), MAPPING);
    let loaded = load(&path, &example_env).unwrap();
    assert_eq!(loaded.config.daemon.retry_for_hours, 72);
    for bad in ["0", "8785", "9223372036854775807"] {
        let text = example().replace("retry_for_hours = 72", &format!("retry_for_hours = {bad}"));
        let path = write(dir.path(), &text, MAPPING);
        let err = load(&path, &example_env).unwrap_err();
        assert_eq!(err.field, "daemon.retry_for_hours", "{bad}: {err}");
        let line = text
            .lines()
            .position(|l| l.starts_with("retry_for_hours"))
            .unwrap()
            + 1;
        assert_eq!(err.line, Some(line), "{err}");
    }
    // Larger than TOML's integers: a parse error naming the field, no panic.
    let text = example().replace(
        "retry_for_hours = 72",
        "retry_for_hours = 18446744073709551615",
    );
    let path = write(dir.path(), &text, MAPPING);
    assert!(load(&path, &example_env).is_err());
}

#[test]
fn non_loopback_admin_listener_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let text = example().replace(
        "admin_listen = \"127.0.0.1:9180\"",
        "admin_listen = \"0.0.0.0:9180\"",
    );
    let path = write(dir.path(), &text, MAPPING);
    let err = load(&path, &example_env).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.field, "daemon.admin_listen", "{msg}");
    assert!(msg.contains("daemon.admin_token"), "{msg}");
    let line = text
        .lines()
        .position(|l| l.starts_with("admin_listen"))
        .unwrap()
        + 1;
    assert_eq!(err.line, Some(line), "{msg}");

    let text = text.replace(
        "admin_listen = \"0.0.0.0:9180\"",
        "admin_listen = \"0.0.0.0:9180\"\nadmin_token = \"${ADMIN_TOKEN}\"",
    );
    let path = write(dir.path(), &text, MAPPING);
    let loaded = load(&path, &example_env).unwrap();
    let token = loaded.config.daemon.admin_token.as_ref().unwrap();
    assert_eq!(token.0, "value-of-ADMIN_TOKEN");
    let shown = format!("{loaded:?}");
    assert!(
        !shown.contains("value-of-ADMIN_TOKEN"),
        "Debug shows the token"
    );
}

#[test]
fn listener_limits_have_defaults_and_refuse_zero() {
    let dir = tempfile::tempdir().unwrap();
    // The example sets them; without the lines the defaults apply.
    let path = write(dir.path(), &example(), MAPPING);
    let daemon = load(&path, &example_env).unwrap().config.daemon;
    assert_eq!(daemon.header_read_timeout_secs, 10);
    assert_eq!(daemon.max_connections, 1024);
    let text = example()
        .replace("header_read_timeout_secs = 10\n", "")
        .replace("max_connections = 1024\n", "");
    assert!(!text.contains("header_read_timeout_secs") && !text.contains("max_connections"));
    let path = write(dir.path(), &text, MAPPING);
    let daemon = load(&path, &example_env).unwrap().config.daemon;
    assert_eq!(daemon.header_read_timeout_secs, 10);
    assert_eq!(daemon.max_connections, 1024);
    let limits = crate::daemon::ListenerLimits::from_config(&daemon);
    assert_eq!(
        limits.header_read_timeout,
        std::time::Duration::from_secs(10)
    );
    assert_eq!(limits.max_connections, 1024);

    for (line, key) in [
        ("header_read_timeout_secs = 10", "header_read_timeout_secs"),
        ("max_connections = 1024", "max_connections"),
        (
            "webhook_read_timeout_secs = 10",
            "webhook_read_timeout_secs",
        ),
        ("max_concurrent_webhooks = 64", "max_concurrent_webhooks"),
    ] {
        let text = example().replace(line, &format!("{key} = 0"));
        let path = write(dir.path(), &text, MAPPING);
        let err = load(&path, &example_env).unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.field, format!("daemon.{key}"), "{msg}");
        assert!(msg.contains("out of range: allowed 1 to"), "{msg}");
        let at = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
        assert_eq!(err.line, Some(at), "{msg}");
    }
    // Negative values are not numbers of seconds or connections at all.
    let text = example().replace("max_connections = 1024", "max_connections = -1");
    let path = write(dir.path(), &text, MAPPING);
    let err = load(&path, &example_env).unwrap_err();
    assert_eq!(err.field, "daemon.max_connections", "{err}");
}

#[test]
fn a_huge_poll_overlap_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let text = example();
    let overlap_line = text
        .lines()
        .find(|l| l.starts_with("poll_overlap_secs"))
        .expect("the example sets poll_overlap_secs")
        .to_string();
    for bad in ["604801", "9223372036854775807"] {
        let text = text.replacen(&overlap_line, &format!("poll_overlap_secs = {bad}"), 1);
        let path = write(dir.path(), &text, MAPPING);
        let err = load(&path, &example_env).unwrap_err();
        assert!(err.field.ends_with(".poll_overlap_secs"), "{bad}: {err}");
    }
}
