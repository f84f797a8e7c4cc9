//! Triggers by queue, by status, or both; a trigger with neither is refused.

use std::path::Path;

use super::load::parse_toml;
use super::Mapping;

const MAPPING: &str = include_str!("../../mappings/autotask-to-connectwise.toml");

fn with_trigger(trigger: &str) -> (String, Result<Mapping, String>) {
    let text = MAPPING.replacen(
        "[trigger]\nside = \"a\"\nqueue = \"Escalate to MSP\"",
        &format!("[trigger]\nside = \"a\"\n{trigger}"),
        1,
    );
    assert_ne!(text, MAPPING, "the shipped mapping's trigger changed");
    let path = Path::new("m.toml");
    let parsed = parse_toml::<Mapping>(path, &text).map_err(|e| e.to_string());
    let checked = parsed.and_then(|m| {
        m.validate(path, &text)
            .map(|()| m)
            .map_err(|e| e.to_string())
    });
    (text, checked)
}

#[test]
fn a_status_trigger_meets_tickets_in_that_status_whatever_their_queue() {
    let (_, mapping) = with_trigger("status = \"Escalated\"");
    let trigger = mapping.unwrap().trigger;
    assert!(trigger.met_by(Some("HELP"), "Escalated"));
    assert!(trigger.met_by(None, "Escalated"));
    assert!(!trigger.met_by(Some("HELP"), "Open"));
    assert_eq!(trigger.describe(), "status \"Escalated\"");
}

#[test]
fn queue_and_status_together_need_both() {
    let (_, mapping) = with_trigger("queue = \"HELP\"\nstatus = \"Escalated\"");
    let trigger = mapping.unwrap().trigger;
    assert!(trigger.met_by(Some("HELP"), "Escalated"));
    assert!(!trigger.met_by(Some("DEV"), "Escalated"));
    assert!(!trigger.met_by(Some("HELP"), "Open"));
}

#[test]
fn a_trigger_without_queue_or_status_or_with_an_empty_one_is_refused() {
    let (_, none) = with_trigger("");
    let error = none.unwrap_err();
    assert!(
        error.contains("trigger") && error.contains("queue, a status"),
        "{error}"
    );
    let (_, empty) = with_trigger("status = \" \"");
    let error = empty.unwrap_err();
    assert!(
        error.contains("trigger.status") && error.contains("must not be empty"),
        "{error}"
    );
}
