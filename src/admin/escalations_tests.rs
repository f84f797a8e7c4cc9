//! Open escalations from a scripted audit trail on a manual clock: owner
//! from custody, time left, breached N ago, paused, closed and other
//! pairings' links left out, an unknown pairing named.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::clock::ManualClock;
use crate::config::load::parse_toml;
use crate::config::{LoadedPairing, Mapping};
use crate::store::{AuditRecord, Store};

const TARGETS: &str = r#"
[targets]
pause_statuses = ["Waiting Customer"]

[[targets.priority]]
label = "Priority 2 - Quick Response"
first_response = "30m"
resolution = "4h"
calendar = "24/7"

[[targets.priority]]
label = "*"
first_response = "4h"
resolution = "27h"
calendar = "24/7"
"#;

fn engine(dir: &Path, clock: &ManualClock) -> Engine {
    let path = Path::new("mappings/autotask-to-connectwise.toml");
    let source = format!(
        "{}\n{TARGETS}",
        include_str!("../../mappings/autotask-to-connectwise.toml")
    );
    let pairing = |name: &str| LoadedPairing {
        name: name.into(),
        a: "autotask".into(),
        b: "connectwise".into(),
        mapping: parse_toml::<Mapping>(path, &source).unwrap(),
        mapping_path: path.into(),
        mapping_source: source.clone(),
    };
    Engine::new(
        Store::open(&dir.join("store")).unwrap(),
        HashMap::new(),
        vec![pairing("acme"), pairing("globex")],
        Arc::new(clock.clone()),
        Default::default(),
    )
}

fn at(h: u32, m: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 27, h, m, 0).unwrap()
}

fn audit(
    engine: &Engine,
    when: Timestamp,
    kind: &'static str,
    pairing: &str,
    link: u64,
    detail: Value,
) {
    engine
        .store
        .transact(|tx| {
            tx.audit(
                when,
                AuditRecord {
                    kind,
                    pairing: Some(pairing),
                    link: Some(link),
                    tickets: vec![format!("autotask:{link}")],
                    message: String::new(),
                    detail: detail.clone(),
                },
            )
        })
        .unwrap();
}

fn escalated(engine: &Engine, when: Timestamp, pairing: &str, link: u64, priority: &str) {
    audit(
        engine,
        when,
        "escalated",
        pairing,
        link,
        json!({ "side": "a", "create": { "status": "New", "priority": priority } }),
    );
}

#[test]
fn open_escalations_with_owner_and_time_left() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(12, 0));
    let engine = engine(dir.path(), &clock);
    // Link 3: closed, not open. Link 4: another pairing's.
    escalated(&engine, at(9, 0), "acme", 3, "Priority 2 - Quick Response");
    audit(
        &engine,
        at(11, 0),
        "closed",
        "acme",
        3,
        json!({ "side": "b" }),
    );
    escalated(
        &engine,
        at(9, 30),
        "globex",
        4,
        "Priority 2 - Quick Response",
    );
    // Link 1 (30m / 4h): Dana holds it from 10:10, nobody answered: the
    // response was due 10:30 (breached 1h 30m ago at 12:00); resolution
    // 2h of 4h counted, 2h left, due 14:00.
    escalated(&engine, at(10, 0), "acme", 1, "Priority 2 - Quick Response");
    audit(
        &engine,
        at(10, 11),
        "custody",
        "acme",
        1,
        json!({ "side": "b", "person": { "id": "7", "name": "Dana", "email": "dana@msp.example" }, "group": "Tier 2", "at": at(10, 10) }),
    );
    // Link 2 (`*`: 4h / 27h): the MSP set "Waiting Customer" at 11:30 (a
    // response after 30m, met) and the clock is paused since: resolution
    // 30m counted, 26h 30m left, no due time while paused.
    escalated(
        &engine,
        at(11, 0),
        "acme",
        2,
        "Priority 3 - Normal Response",
    );
    audit(
        &engine,
        at(11, 30),
        "status_changed",
        "acme",
        2,
        json!({ "side": "b", "from": "New", "to": "Waiting Customer", "written": "Waiting Customer", "closed": false, "at": at(11, 30) }),
    );

    let view = open_escalations(&engine, "acme").unwrap();
    assert!(view.targets_configured);
    assert_eq!(view.as_of_unix_ms, at(12, 0).timestamp_millis());
    let links: Vec<u64> = view.items.iter().map(|i| i.link).collect();
    assert_eq!(links, vec![1, 2], "open escalations of acme, oldest first");

    let one = &view.items[0];
    assert_eq!(
        one.owner,
        OwnerView {
            side: Side::B,
            connection: "connectwise".into(),
            person: Some("Dana".into()),
            email: Some("dana@msp.example".into()),
            group: Some("Tier 2".into()),
            since_unix_ms: at(10, 10).timestamp_millis(),
        }
    );
    let texts = |i: &EscalationView| -> Vec<(String, String, Option<i64>, i64)> {
        i.targets
            .iter()
            .map(|t| (t.target.clone(), t.text.clone(), t.due_unix_ms, t.left_secs))
            .collect()
    };
    assert_eq!(
        texts(one),
        vec![
            (
                "first_response".into(),
                "breached 1h 30m ago".into(),
                Some(at(10, 30).timestamp_millis()),
                -5400
            ),
            (
                "resolution".into(),
                "2h 0m left".into(),
                Some(at(14, 0).timestamp_millis()),
                7200
            ),
        ]
    );
    let two = &view.items[1];
    assert!(two.paused);
    assert_eq!(
        (two.owner.person.as_deref(), two.owner.since_unix_ms),
        (None, at(11, 0).timestamp_millis())
    );
    assert_eq!(
        texts(two),
        vec![
            (
                "first_response".into(),
                "met".into(),
                None, // computed through the lasting pause
                4 * 3600 - 1800
            ),
            (
                "resolution".into(),
                "paused (1d 2h left)".into(),
                None,
                26 * 3600 + 1800
            ),
        ]
    );

    // An hour later, Dana's resolution target is 1h from due.
    clock.advance(Duration::hours(1));
    let later = open_escalations(&engine, "acme").unwrap();
    assert_eq!(later.items[0].targets[1].text, "1h 0m left");

    let unknown = open_escalations(&engine, "initech").unwrap_err();
    assert_eq!(unknown.status, axum::http::StatusCode::NOT_FOUND);
    assert!(
        unknown.message.contains("acme, globex"),
        "{}",
        unknown.message
    );
}
