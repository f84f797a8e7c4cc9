//! `[reverse_trigger]`: a far-side (MSP) ticket in the reverse queue and
//! inside the pairing's scope starts a link, created on the trigger side
//! with the reverse placement and no write-back; one of another client's
//! companies never does; without `[reverse_trigger]` nothing changes.

use std::path::Path;

use super::tests::{fixture, ticket, MAPPING};
use super::trigger::triggers;
use crate::config::Vendor;
use crate::store::{Action, Side};

const REVERSE: &str = "\n[reverse_trigger]\nqueue = \"Co-Managed\"\nstatus = \"New\"\n\
     placement = { queue = \"Level I\" }\ntitle_template = \"MSP: {title} [{number}]\"\n";

fn mapping(text: &str) -> Result<crate::config::Mapping, String> {
    let path = Path::new("m.toml");
    let mut mapping: crate::config::Mapping =
        crate::config::load::parse_toml(path, text).map_err(|e| e.to_string())?;
    mapping.validate(path, text).map_err(|e| e.to_string())?;
    crate::config::scope::resolve(
        &mut mapping,
        Vendor::Autotask,
        Vendor::Connectwise,
        path,
        text,
    )
    .map_err(|e| e.to_string())?;
    Ok(mapping)
}

fn msp_ticket(company: &str) -> psa_connector::Ticket {
    let mut t = ticket(Side::B, "New", "Priority 2 - Quick Response");
    t.queue = Some("Co-Managed".into());
    t.fields.insert("company".into(), company.into());
    t
}

#[test]
fn a_far_side_ticket_in_the_reverse_queue_and_in_scope_starts_a_link() {
    let mut f = fixture();
    f.engine.pairings[0].mapping = mapping(&format!("{MAPPING}{REVERSE}")).unwrap();
    let pairing = &f.engine.pairings[0];
    assert!(triggers(pairing, Side::B, &msp_ticket("ACME")));
    assert!(
        !triggers(pairing, Side::B, &msp_ticket("Contoso")),
        "another client's company"
    );
    let mut in_progress = msp_ticket("ACME");
    in_progress.status = "In Progress".into();
    assert!(!triggers(pairing, Side::B, &in_progress));
    let mut bridge_made = msp_ticket("ACME");
    bridge_made.marker = Some("psa-bridge:acme:a:100".into());
    assert!(!triggers(pairing, Side::B, &bridge_made));

    let plan = f
        .engine
        .plan_escalation(pairing, Side::B, "connectwise", &msp_ticket("ACME"), 99);
    assert_eq!(plan.link.origin, Side::B);
    assert_eq!(plan.ops.len(), 1);
    assert_eq!(plan.ops[0].target, Side::A);
    let Action::CreateTicket { ticket, write_back } = &plan.ops[0].action else {
        panic!("{:?}", plan.ops)
    };
    assert_eq!(
        ticket.placement.get("queue").map(String::as_str),
        Some("Level I")
    );
    assert_eq!(ticket.title, "MSP: VPN down [200]");
    assert_eq!(ticket.status.as_deref(), Some("New"));
    assert!(write_back.is_none(), "write-back names side a's fields");
    assert!(plan.audit[0]
        .message
        .contains("\"Co-Managed\" with status \"New\""));
}

#[test]
fn without_a_reverse_trigger_the_far_side_never_escalates() {
    let mut f = fixture();
    f.engine.pairings[0].mapping = mapping(MAPPING).unwrap();
    assert!(!triggers(
        &f.engine.pairings[0],
        Side::B,
        &msp_ticket("ACME")
    ));
    // And the forward direction still creates with `[create]`.
    let mut internal = ticket(Side::A, "New", "High");
    internal.queue = Some("Escalate to MSP".into());
    let pairing = &f.engine.pairings[0];
    assert!(triggers(pairing, Side::A, &internal));
    let plan = f
        .engine
        .plan_escalation(pairing, Side::A, "autotask", &internal, 98);
    let Action::CreateTicket { ticket, write_back } = &plan.ops[0].action else {
        panic!("{:?}", plan.ops)
    };
    assert_eq!(
        ticket.placement.get("company").map(String::as_str),
        Some("ACME")
    );
    assert!(write_back.is_some());
}

#[test]
fn a_reverse_trigger_needs_a_queue_or_a_status() {
    let error = mapping(&format!(
        "{MAPPING}\n[reverse_trigger]\nplacement = {{ queue = \"Level I\" }}\n"
    ))
    .unwrap_err();
    assert!(
        error.contains("reverse_trigger") && error.contains("queue, a status"),
        "{error}"
    );
    let error = mapping(&format!("{MAPPING}\n[reverse_trigger]\nstatus = \"\"\n")).unwrap_err();
    assert!(
        error.contains("reverse_trigger.status") && error.contains("must not be empty"),
        "{error}"
    );
    let error = mapping(&format!("{MAPPING}\n[reverse_trigger]\nboard = \"X\"\n")).unwrap_err();
    assert!(error.contains("unknown field"), "{error}");
}
