//! Companion fields through the planner: a status written to a side carries
//! the fields the mapping pairs with it, rendered from the other side's
//! resolution note; a missing note leaves the field out (the connector then
//! refuses the write, naming it).

use std::collections::BTreeMap;

use super::reconcile::add_status_companions;
use super::tests::{fixture_with, ticket, updates, MAPPING};
use crate::store::{Action, Side};

fn mapping_with_companions() -> String {
    let plain = r#"{ a = "Complete", b = ">Closed" },"#;
    assert!(MAPPING.contains(plain), "the shipped mapping changed");
    MAPPING.replacen(
        plain,
        r#"{ a = "Complete", b = ">Closed", a_with = { close_code = "Solved (Permanently)", close_notes = "{resolution}" } },"#,
        1,
    )
}

fn closing_plan(resolution: Option<&str>) -> BTreeMap<String, String> {
    let f = fixture_with(&mapping_with_companions());
    let a = ticket(Side::A, "In Progress", "High");
    let b = ticket(Side::B, "In Progress", "Priority 2 - Quick Response");
    f.agree(&a, &b);
    let closed = ticket(Side::B, ">Closed", "Priority 2 - Quick Response");
    let mut plan = f.plan(&a, &closed, &[]);
    let mut resolutions = BTreeMap::new();
    if let Some(text) = resolution {
        resolutions.insert(Side::B, text.to_string());
    }
    add_status_companions(f.pairing(), &resolutions, &mut plan);
    let ops = updates(&plan, Side::A);
    assert_eq!(ops.len(), 1, "{:?}", plan.ops);
    let Action::UpdateTicket { update } = ops[0] else {
        unreachable!()
    };
    assert_eq!(update.status.as_deref(), Some("Complete"));
    update.fields.clone()
}

#[test]
fn a_status_carries_its_companions_rendered_from_the_resolution_note() {
    let fields = closing_plan(Some("Replaced the failed PSU."));
    assert_eq!(fields["close_code"], "Solved (Permanently)");
    assert_eq!(fields["close_notes"], "Replaced the failed PSU.");
}

#[test]
fn without_a_resolution_note_the_field_is_left_for_the_connector_to_name() {
    let fields = closing_plan(None);
    assert_eq!(fields["close_code"], "Solved (Permanently)");
    assert!(!fields.contains_key("close_notes"), "{fields:?}");
}

#[test]
fn companions_on_a_priority_or_with_an_unknown_placeholder_are_refused() {
    use crate::config::load::parse_toml;
    use crate::config::Mapping;
    let path = std::path::Path::new("m.toml");
    let on_priority = MAPPING.replacen(
        r#"{ a = "Critical", b = "Priority 1 - Emergency Response" },"#,
        r#"{ a = "Critical", b = "Priority 1 - Emergency Response", a_with = { x = "y" } },"#,
        1,
    );
    let mapping: Mapping = parse_toml(path, &on_priority).unwrap();
    let error = mapping
        .validate(path, &on_priority)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a_with") && error.contains("status values only"),
        "{error}"
    );
    let typo = mapping_with_companions().replace("{resolution}", "{resolutoin}");
    let mapping: Mapping = parse_toml(path, &typo).unwrap();
    let error = mapping.validate(path, &typo).unwrap_err().to_string();
    assert!(
        error.contains("{resolutoin}") && error.contains("{resolution}"),
        "{error}"
    );
}
