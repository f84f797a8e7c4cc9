//! `[scope]`: defaults from `[create] placement`, explicit tables, the
//! whole tenant, and refusals (unknown keys name the valid ones; blank,
//! overlong, control-character and non-text values) without panics.

use std::path::Path;

use psa_connector::Ticket;

use super::load::parse_toml;
use super::scope::{resolve, Mismatch, PairingScope, MAX_VALUE_CHARS};
use super::{Mapping, Vendor};
use crate::store::Side;

const MAPPING: &str = include_str!("../../mappings/autotask-to-connectwise.toml");

/// The shipped Autotask ↔ ConnectWise mapping plus `extra`, resolved for
/// side a on `a` and side b on `b`.
fn scoped(extra: &str, a: Vendor, b: Vendor) -> Result<PairingScope, String> {
    let text = format!("{MAPPING}\n{extra}");
    let path = Path::new("m.toml");
    let mut mapping: Mapping = parse_toml(path, &text).map_err(|e| e.to_string())?;
    mapping.validate(path, &text).map_err(|e| e.to_string())?;
    resolve(&mut mapping, a, b, path, &text).map_err(|e| e.to_string())?;
    Ok(mapping.scope.resolved)
}

fn at_cw(extra: &str) -> Result<PairingScope, String> {
    scoped(extra, Vendor::Autotask, Vendor::Connectwise)
}

fn ticket(fields: &[(&str, &str)], queue: Option<&str>) -> Ticket {
    Ticket {
        queue: queue.map(str::to_string),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..crate::testing::sample_ticket("1")
    }
}

#[test]
fn the_created_side_defaults_to_the_placement_company_and_the_trigger_side_is_the_whole_tenant() {
    let scope = at_cw("").unwrap();
    assert_eq!(scope.a.describe(), "whole tenant");
    assert_eq!(scope.b.describe(), "company = \"ACME\"");
    let acme = ticket(&[("company", "ACME"), ("board", "Co-Managed")], None);
    let contoso = ticket(&[("company", "Contoso")], None);
    assert!(scope.admits(Side::B, &acme));
    let lower = ticket(&[("company", " acme ")], None);
    assert!(
        scope.admits(Side::B, &lower),
        "case and blanks do not matter"
    );
    let longer = ticket(&[("company", "ACME2")], None);
    assert!(!scope.admits(Side::B, &longer));
    assert_eq!(
        scope.b.check(&contoso),
        Some(Mismatch {
            key: "company".into(),
            expected: "ACME".into(),
            found: Some("Contoso".into()),
        })
    );
    // A ticket without a company is not the client's either.
    let none = ticket(&[], None);
    assert_eq!(scope.b.check(&none).unwrap().found, None);
    // Side a takes anything.
    assert!(scope.admits(Side::A, &contoso));
}

#[test]
fn an_explicit_table_replaces_the_default_and_an_empty_one_is_the_whole_tenant() {
    let scope = at_cw(
        "[scope]\na = { company_id = \"174\", queue = \"Escalate to MSP\" }\n\
         b = { company = \"ACME\", board = \"Co-Managed\" }\n",
    )
    .unwrap();
    assert_eq!(
        scope.a.describe(),
        "company_id = \"174\", queue = \"Escalate to MSP\""
    );
    let ours = ticket(&[("companyID", "174")], Some("Escalate to MSP"));
    let theirs = ticket(&[("companyID", "175")], Some("Escalate to MSP"));
    let other_queue = ticket(&[("companyID", "174")], Some("Level I"));
    assert!(scope.admits(Side::A, &ours));
    assert_eq!(scope.a.check(&theirs).unwrap().key, "company_id");
    assert_eq!(scope.a.check(&other_queue).unwrap().key, "queue");
    let other_board = ticket(&[("company", "ACME")], Some("Help Desk"));
    assert_eq!(scope.b.check(&other_board).unwrap().key, "board");

    let whole = at_cw("[scope]\nb = {}\n").unwrap();
    assert_eq!(whole.b.describe(), "whole tenant");
}

#[test]
fn every_vendor_has_its_keys() {
    let sn = scoped(
        "[scope]\na = { company = \"ACME Corp\", assignment_group = \"Service Desk\" }\nb = { project = \"HELP\" }\n",
        Vendor::Servicenow,
        Vendor::Jira,
    )
    .unwrap();
    let incident = ticket(&[("company", "ACME Corp")], Some("Service Desk"));
    assert!(sn.admits(Side::A, &incident));
    let issue = ticket(&[], Some("HELP"));
    assert!(sn.admits(Side::B, &issue));
    assert!(!sn.admits(Side::B, &ticket(&[], Some("OPS"))));
    // ServiceNow's placement `company` is its default scope too.
    let text = MAPPING.replace(
        "placement = { board = \"Co-Managed\", company = \"ACME\" }",
        "placement = { company = \"ACME Corp\" }",
    );
    let path = Path::new("m.toml");
    let mut mapping: Mapping = parse_toml(path, &text).unwrap();
    resolve(
        &mut mapping,
        Vendor::Autotask,
        Vendor::Servicenow,
        path,
        &text,
    )
    .unwrap();
    assert_eq!(
        mapping.scope.resolved.b.describe(),
        "company = \"ACME Corp\""
    );
}

#[test]
fn unknown_keys_are_refused_naming_the_valid_ones() {
    let error = at_cw("[scope]\nb = { companyy = \"ACME\" }\n").unwrap_err();
    assert!(
        error.contains("scope.b.companyy")
            && error.contains("unknown scope key \"companyy\" for connectwise")
            && error.contains("valid keys: company, board"),
        "{error}"
    );
    assert!(error.contains("m.toml:"), "names the line: {error}");
    // A key of another vendor is unknown here.
    let error = at_cw("[scope]\na = { company = \"ACME\" }\n").unwrap_err();
    assert!(error.contains("valid keys: company_id, queue"), "{error}");
    // Only sides a and b.
    let error = at_cw("[scope]\nc = { company = \"ACME\" }\n").unwrap_err();
    assert!(
        error.contains("scope") && error.contains("unknown field"),
        "{error}"
    );
}

#[test]
fn hostile_values_are_refused_with_a_reason() {
    for (value, reason) in [
        ("\"\"", "must not be empty"),
        ("\"   \"", "must not be empty"),
        ("\"AC\\u0000ME\"", "control characters"),
        ("\"AC\\nME\"", "control characters"),
        (
            &format!("\"{}\"", "x".repeat(MAX_VALUE_CHARS + 1)),
            "longer than 256",
        ),
    ] {
        let error = at_cw(&format!("[scope]\nb = {{ company = {value} }}\n")).unwrap_err();
        assert!(
            error.contains("scope.b.company") && error.contains(reason),
            "{value}: {error}"
        );
    }
    // Not text at all: a parse error naming the field, not a panic.
    for value in ["42", "[\"ACME\"]", "{ x = 1 }"] {
        let error = at_cw(&format!("[scope]\nb = {{ company = {value} }}\n")).unwrap_err();
        assert!(error.contains("scope"), "{value}: {error}");
    }
    let error = at_cw("[scope]\nb = \"ACME\"\n").unwrap_err();
    assert!(error.contains("scope.b"), "{error}");
    // A placement company that cannot be a scope is refused as such.
    let text = MAPPING.replace("company = \"ACME\" }", "company = \" \" }");
    let path = Path::new("m.toml");
    let mut mapping: Mapping = parse_toml(path, &text).unwrap();
    let error = resolve(
        &mut mapping,
        Vendor::Autotask,
        Vendor::Connectwise,
        path,
        &text,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("create.placement.company") && error.contains("scope"),
        "{error}"
    );
}

/// A mapping loaded through the configuration gets its scope resolved.
#[test]
fn the_loaded_configuration_carries_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    let config = super::tests::write(dir.path(), &super::tests::example(), MAPPING);
    let loaded = super::load(&config, &super::tests::example_env).unwrap();
    let scope = &loaded.pairings[0].mapping.scope.resolved;
    assert_eq!(scope.b.describe(), "company = \"ACME\"");
}
