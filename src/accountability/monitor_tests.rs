//! The monitor on a manual clock: exactly one near-breach and one breach
//! with the expected timestamps; none when the target is met; a paused
//! period moves the due time; nothing twice after a restart.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::clock::ManualClock;
use crate::config::Mapping;
use crate::store::{Link, Store, TicketRef};

const TARGETS: &str = r#"
[targets]
pause_statuses = ["Waiting Customer"]
note = true

[[targets.priority]]
label = "Priority 2 - Quick Response"
first_response = "1h"
resolution = "8h"
"#;

struct Fixture {
    engine: Arc<Engine>,
    clock: ManualClock,
    t0: Timestamp,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n{TARGETS}",
        include_str!("../../mappings/autotask-to-connectwise.toml")
    );
    let path = Path::new("m.toml");
    let mapping: Mapping = toml::from_str(&text).unwrap();
    mapping.validate(path, &text).unwrap();
    let pairing = LoadedPairing {
        name: "acme".into(),
        a: "autotask".into(),
        b: "connectwise".into(),
        mapping,
        mapping_path: path.into(),
        mapping_source: text,
    };
    let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let engine = Engine::new(
        Store::open(&dir.path().join("store")).unwrap(),
        HashMap::new(),
        vec![pairing],
        Arc::new(clock.clone()),
        Default::default(),
    );
    Fixture {
        engine: Arc::new(engine),
        clock,
        t0,
        _dir: dir,
    }
}

impl Fixture {
    fn minutes(&self, m: i64) -> Timestamp {
        self.t0 + Duration::minutes(m)
    }

    /// An audit entry at `t0 + minutes` for link `link`.
    fn audit(&self, minutes: i64, kind: &str, link: u64, detail: Value) {
        self.engine
            .store
            .transact(|tx| {
                tx.audit(
                    self.minutes(minutes),
                    AuditRecord {
                        kind,
                        pairing: Some("acme"),
                        link: Some(link),
                        tickets: vec![],
                        message: String::new(),
                        detail: detail.clone(),
                    },
                )
            })
            .unwrap();
    }

    /// Link `id` with tickets on both sides, escalated at `t0`.
    fn escalate(&self, id: u64) {
        let link = Link {
            id,
            pairing: "acme".into(),
            a: Some(TicketRef {
                id: format!("{id}00"),
                number: format!("T{id}"),
            }),
            b: Some(TicketRef {
                id: format!("{id}01"),
                number: format!("{id}01"),
            }),
            origin: Side::A,
            created_at: self.t0,
            marker: None,
        };
        self.engine
            .store
            .transact(|tx| tx.put(TreeName::Links, &id.to_be_bytes(), &link))
            .unwrap();
        self.audit(0, "escalated", id, json!({"side": "a", "create": {"status": "New", "priority": "Priority 2 - Quick Response"}}));
    }

    fn alerts(&self) -> Vec<AuditEntry> {
        let entries = self.engine.store.audit_entries().unwrap();
        entries
            .into_iter()
            .filter(|e| e.kind.starts_with("target_"))
            .collect()
    }
}

#[tokio::test]
async fn one_near_breach_and_one_breach_at_the_expected_times() {
    let f = fixture();
    // Link 1: no response. Link 2: answered after 30 min (met). Link 3: the
    // internal side sets "Waiting Customer" (written to the MSP ticket) from
    // +10 to +40 min: 30 paused minutes move its due time to +90 min.
    for id in [1, 2, 3] {
        f.escalate(id);
    }
    f.audit(10, "status_changed", 3, json!({"side": "a", "to": "Waiting Customer", "written": "Waiting Customer", "closed": false}));
    f.audit(
        30,
        "note_planned",
        2,
        json!({"side": "b", "visibility": "public", "comment": "1"}),
    );
    f.audit(
        40,
        "status_changed",
        3,
        json!({"side": "a", "to": "In Progress", "written": "In Progress", "closed": false}),
    );
    let mut monitor = Monitor::new(f.engine.clone()).unwrap();

    // (minute of the tick, what it records: link, breached)
    let timeline: &[(i64, &[(u64, bool)])] = &[
        (0, &[]),
        (47, &[]),
        (48, &[(1, false)]),
        (50, &[]),
        (59, &[]),
        (60, &[(1, true)]),
        (77, &[]),
        (78, &[(3, false)]),
        (89, &[]),
        (90, &[(3, true)]),
        (180, &[]),
    ];
    let mut now = 0;
    for (minute, expected) in timeline {
        f.clock.advance(Duration::minutes(minute - now));
        now = *minute;
        let recorded = monitor.tick().await.unwrap();
        let got: Vec<(u64, bool)> = recorded.iter().map(|r| (r.link, r.breached)).collect();
        assert_eq!(&got, expected, "tick at +{minute} min");
        for r in &recorded {
            assert_eq!(r.target, TargetKind::FirstResponse);
            assert_eq!(r.at, f.minutes(*minute));
            assert_eq!(
                r.crossed_at,
                Some(f.minutes(*minute)),
                "crossed exactly at the tick"
            );
        }
    }

    let alerts = f.alerts();
    assert_eq!(alerts.len(), 4, "{alerts:#?}");
    let breach = alerts
        .iter()
        .find(|e| e.kind == "target_breached" && e.link == Some(3))
        .unwrap();
    assert_eq!(breach.at, f.minutes(90));
    assert_eq!(breach.detail["target"], "first_response");
    assert_eq!(breach.detail["priority"], "Priority 2 - Quick Response");
    assert_eq!(breach.detail["due"], json!(f.minutes(90)));
    assert_eq!(breach.detail["at"], json!(f.minutes(90)));
    assert_eq!(breach.detail["business_secs_elapsed"], 3600);
    assert_eq!(breach.detail["target_secs"], 3600);
    assert!(!alerts.iter().any(|e| e.link == Some(2)), "met: no alert");

    // Each alert put an internal note on both tickets, each with its own marker.
    let outbox = f.engine.store.outbox().unwrap();
    assert_eq!(outbox.len(), 8);
    let mut markers = Vec::new();
    for op in &outbox {
        let Action::AddComment { comment, .. } = &op.action else {
            panic!("{op:?}")
        };
        assert_eq!(comment.visibility, Visibility::Internal);
        assert!(comment.marker.contains(":target:"), "{}", comment.marker);
        markers.push(comment.marker.clone());
    }
    markers.sort();
    markers.dedup();
    assert_eq!(markers.len(), 8);

    // A restarted monitor (or a second one) records nothing again.
    f.clock.advance(Duration::hours(2)); // +5 h: the 8 h resolution target is not near yet
    let mut again = Monitor::new(f.engine.clone()).unwrap();
    assert_eq!(again.tick().await.unwrap(), vec![]);
    assert_eq!(monitor.tick().await.unwrap(), vec![]);
    assert_eq!(f.alerts().len(), 4);
}

/// A monitor that was not running when the threshold passed records the
/// near-breach and the breach together, with the instants they were crossed.
#[tokio::test]
async fn a_late_look_records_both_with_their_crossing_times() {
    let f = fixture();
    f.escalate(1);
    let mut monitor = Monitor::new(f.engine.clone()).unwrap();
    f.clock.advance(Duration::minutes(75));
    let recorded = monitor.tick().await.unwrap();
    let got: Vec<(bool, Option<Timestamp>, Timestamp)> = recorded
        .iter()
        .map(|r| (r.breached, r.crossed_at, r.at))
        .collect();
    assert_eq!(
        got,
        [
            (false, Some(f.minutes(48)), f.minutes(75)),
            (true, Some(f.minutes(60)), f.minutes(75)),
        ]
    );
}

#[test]
fn durations_in_words() {
    assert_eq!(human(5400), "1h 30m");
    assert_eq!(human(86_400 + 5), "1d 5s");
    assert_eq!(human(0), "0s");
}
