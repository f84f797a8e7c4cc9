//! The example configuration's optional ServiceNow block is a working
//! configuration once uncommented, with the shipped ServiceNow mapping.

use std::path::Path;

use super::load;

const EXAMPLE: &str = include_str!("../../psa-bridge.example.toml");
const SERVICENOW_MAPPING: &str = include_str!("../../mappings/servicenow-to-connectwise.toml");

/// The example with the ServiceNow block's `# ` lines uncommented and the
/// pairing's side a moved to it.
fn with_servicenow() -> String {
    let start = EXAMPLE
        .find("# ---- ServiceNow as the internal side")
        .expect("the example has a ServiceNow block");
    let end = EXAMPLE[start..]
        .find("# ---- Pairings")
        .map(|e| start + e)
        .expect("the block ends at the pairings");
    let block: String = EXAMPLE[start..end]
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("##"))
        .map(|l| l.strip_prefix("# ").or(l.strip_prefix('#')).unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = format!("{}{block}{}", &EXAMPLE[..start], &EXAMPLE[end..]);
    text.replace("a = \"internal-autotask\"", "a = \"internal-servicenow\"")
        .replace(
            "mappings/autotask-to-connectwise.toml",
            "mappings/servicenow-to-connectwise.toml",
        )
}

/// `config` written as `bridge.toml` beside the ServiceNow mapping.
fn written(config: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("mappings")).unwrap();
    std::fs::write(
        dir.path().join("mappings/servicenow-to-connectwise.toml"),
        SERVICENOW_MAPPING,
    )
    .unwrap();
    let path = dir.path().join("bridge.toml");
    std::fs::write(&path, config).unwrap();
    (dir, path)
}

#[test]
fn the_servicenow_block_loads_and_builds_a_connector() {
    let (_dir, path) = written(&with_servicenow());
    let loaded = load(&path, &|name| Some(format!("value-of-{name}"))).unwrap();
    let servicenow = &loaded.config.connections["internal-servicenow"];
    let settings = servicenow.servicenow.as_ref().unwrap();
    assert_eq!(settings.table, "incident");
    assert_eq!(
        settings.password.as_deref(),
        Some("value-of-SERVICENOW_PASSWORD")
    );
    assert_eq!(loaded.pairings[0].a, "internal-servicenow");
    crate::connections::build_all(&loaded.config.connections).unwrap();
    assert!(Path::new(&loaded.pairings[0].mapping_path).ends_with("servicenow-to-connectwise.toml"));
}

#[test]
fn a_servicenow_connection_without_its_table_names_the_table() {
    let text = with_servicenow().replace(
        "[connections.internal-servicenow.servicenow]",
        "[connections.internal-servicenow.autotask]",
    );
    let (_dir, path) = written(&text);
    let error = load(&path, &|name| Some(format!("value-of-{name}")))
        .unwrap_err()
        .to_string();
    assert!(error.contains("internal-servicenow"), "{error}");
}

#[test]
fn a_jira_connection_loads_and_builds_its_connector() {
    let jira = "[connections.internal-jira]\nvendor = \"jira\"\n\n\
        [connections.internal-jira.jira]\nsite_url = \"https://acme.atlassian.net/\"\n\
        email = \"bridge@acme.example\"\napi_token = \"${JIRA_API_TOKEN}\"\nproject = \"HELP\"\n\
        webhook_secret = \"${JIRA_WEBHOOK_SECRET}\"\n\n";
    let text = with_servicenow().replace("# ---- Pairings", &format!("{jira}# ---- Pairings"));
    let (_dir, path) = written(&text);
    let loaded = load(&path, &|name| Some(format!("value-of-{name}"))).unwrap();
    let settings = loaded.config.connections["internal-jira"]
        .jira
        .as_ref()
        .unwrap();
    assert_eq!(settings.api_token, "value-of-JIRA_API_TOKEN");
    let connections = crate::connections::build_all(&loaded.config.connections).unwrap();
    assert_eq!(connections["internal-jira"].connector.vendor(), "jira");
}
