//! Ledgers from scripted audit trails, with hand-calculated figures
//! (Europe/Berlin office hours Mon–Fri 08:00–17:00, CET = UTC+1).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::DateTime;
use serde_json::{json, Value};

use super::*;
use crate::accountability::calendar::{Calendar, DayRange};
use crate::accountability::targets::PriorityTargets;

pub(crate) fn at(s: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// An audit trail under construction (pairing `acme`).
#[derive(Default)]
pub(crate) struct Trail(pub Vec<AuditEntry>);

impl Trail {
    pub fn add(&mut self, when: &str, kind: &str, link: u64, detail: Value) -> &mut Self {
        let seq = self.0.len() as u64 + 1;
        self.0.push(AuditEntry {
            seq,
            at: at(when),
            kind: kind.into(),
            pairing: Some("acme".into()),
            link: Some(link),
            tickets: vec![format!("autotask:{link}")],
            message: String::new(),
            detail,
            prev_hash: String::new(),
            hash: String::new(),
            v: 2,
        });
        self
    }

    /// An escalation from side a creating an MSP ticket with `priority`.
    pub fn escalate(&mut self, when: &str, link: u64, priority: &str) -> &mut Self {
        self.add(
            when,
            "escalated",
            link,
            json!({"side": "a", "create": {"title": "VPN", "description": "", "status": "New", "priority": priority}}),
        )
    }
}

pub(crate) fn office() -> Calendar {
    let mut week: [Vec<DayRange>; 7] = Default::default();
    for day in week.iter_mut().take(5) {
        *day = vec![DayRange::parse("08:00-17:00").unwrap()];
    }
    Calendar::new(chrono_tz::Europe::Berlin, week, BTreeSet::new()).unwrap()
}

/// P2: 2 h response, 6 h resolution in office hours; anything else 24/7 1 h / 8 h.
pub(crate) fn targets() -> Targets {
    Targets {
        msp_side: Side::B,
        near_breach: 0.8,
        pause_statuses: ["Waiting Customer".to_string()].into(),
        note: false,
        priorities: vec![
            PriorityTargets {
                label: "P2".into(),
                first_response: Some(2 * 3600),
                resolution: Some(6 * 3600),
                calendar_name: "office".into(),
                calendar: Arc::new(office()),
            },
            PriorityTargets {
                label: "*".into(),
                first_response: Some(3600),
                resolution: Some(8 * 3600),
                calendar_name: "24/7".into(),
                calendar: Arc::new(Calendar::always()),
            },
        ],
    }
}

fn result(ledger: &LinkLedger, kind: TargetKind) -> &TargetResult {
    ledger.targets.iter().find(|t| t.kind == kind).unwrap()
}

/// Escalated Fri 15:00 CET; the MSP answers by setting "Waiting Customer"
/// at 16:00 CET (response after 1 business hour), resumes Mon 10:00 CET and
/// closes Mon 13:00 CET: 1 h + 3 h counted, the 3 paused business hours
/// (Fri 16–17, Mon 08–10) and the weekend not.
#[test]
fn a_paused_escalation_across_a_weekend() {
    let mut t = Trail::default();
    t.escalate("2026-01-16T14:00:00Z", 1, "P2")
        .add("2026-01-16T14:31:00Z", "custody", 1,
             json!({"side": "b", "person": {"id": "7", "name": "Alice", "email": "alice@msp.example"}, "group": "Tier 2", "at": "2026-01-16T14:30:00Z"}))
        .add("2026-01-16T15:00:05Z", "status_changed", 1,
             json!({"side": "b", "from": "New", "to": "Waiting Customer", "written": "Waiting Customer", "closed": false, "at": "2026-01-16T15:00:00Z"}))
        .add("2026-01-19T09:00:02Z", "status_changed", 1,
             json!({"side": "b", "from": "Waiting Customer", "to": "In Progress", "written": "In Progress", "closed": false, "at": "2026-01-19T09:00:00Z"}))
        .add("2026-01-19T09:30:00Z", "note_planned", 1,
             json!({"side": "b", "comment": "9", "visibility": "public", "created_at": "2026-01-19T09:29:00Z"}))
        .add("2026-01-19T12:00:00Z", "closed", 1, json!({"side": "b"}))
        .add("2026-01-19T12:00:00Z", "note_planned", 2, json!({"side": "b", "visibility": "public"}));
    let all = ledgers(&t.0, "acme", Some(&targets()), at("2026-01-20T00:00:00Z"));
    assert_eq!(all.len(), 1, "link 2 has no escalation entry: left out");
    let l = &all[0];
    assert_eq!(l.priority.as_deref(), Some("P2"));
    assert_eq!(
        l.first_response,
        Some(Response {
            at: at("2026-01-16T15:00:00Z"),
            by: "status_change"
        })
    );
    assert_eq!(l.resolved_at, Some(at("2026-01-19T12:00:00Z")));
    assert_eq!(
        l.paused,
        vec![Interval {
            from: at("2026-01-16T15:00:00Z"),
            to: Some(at("2026-01-19T09:00:00Z"))
        }]
    );

    let response = result(l, TargetKind::FirstResponse);
    assert_eq!(
        (response.elapsed_secs, response.outcome),
        (3600, Outcome::Met)
    );
    // 2 h: Fri 15–16 CET, then (paused) Mon 10–11 CET.
    assert_eq!(response.due, Some(at("2026-01-19T10:00:00Z")));
    let resolution = result(l, TargetKind::Resolution);
    assert_eq!(
        (resolution.elapsed_secs, resolution.outcome),
        (4 * 3600, Outcome::Met)
    );
    // 6 h: 1 h Friday, 5 h from Mon 10:00 CET → 15:00 CET; 80 % (4.8 h) at 13:48 CET.
    assert_eq!(resolution.due, Some(at("2026-01-19T14:00:00Z")));
    assert_eq!(resolution.near_at, Some(at("2026-01-19T12:48:00Z")));

    // Unassigned on the MSP side for 30 min, then Alice until the close.
    assert_eq!(l.custody.len(), 2);
    assert_eq!(
        (l.custody[0].person.as_ref(), l.custody[0].secs),
        (None, 1800)
    );
    let alice = &l.custody[1];
    assert_eq!(
        alice.person.as_ref().unwrap().name.as_deref(),
        Some("Alice")
    );
    assert_eq!(alice.group.as_deref(), Some("Tier 2"));
    assert_eq!(
        (alice.to, alice.secs),
        (Some(at("2026-01-19T12:00:00Z")), 250_200)
    );
}

/// Only a public MSP note that crossed, an MSP status change away from the
/// initial status, or an MSP close count as the response; its vendor time
/// is clamped to the escalation.
#[test]
fn what_counts_as_the_first_response() {
    let mut t = Trail::default();
    t.escalate("2026-03-02T10:00:00Z", 1, "P9")
        .add("2026-03-02T10:05:00Z", "note_planned", 1, json!({"side": "b", "visibility": "internal", "created_at": "2026-03-02T10:04:00Z"}))
        .add("2026-03-02T10:06:00Z", "note_planned", 1, json!({"side": "a", "visibility": "public", "created_at": "2026-03-02T10:05:00Z"}))
        .add("2026-03-02T10:07:00Z", "status_changed", 1, json!({"side": "b", "from": "In Progress", "to": "New", "written": "New", "closed": false}))
        .add("2026-03-02T10:08:00Z", "status_changed", 1, json!({"side": "a", "from": "New", "to": "In Progress", "written": "In Progress", "closed": false}))
        .add("2026-03-02T10:40:00Z", "note_planned", 1, json!({"side": "b", "visibility": "public", "created_at": "2026-03-02T10:39:00Z"}))
        // A second escalation: its first response is a note stamped before the escalation.
        .escalate("2026-03-02T11:00:00Z", 2, "P9")
        .add("2026-03-02T11:02:00Z", "note_planned", 2, json!({"side": "b", "visibility": "public", "created_at": "2026-03-02T10:58:00Z"}))
        // A third: no response, but the MSP closed it (by itself).
        .escalate("2026-03-02T12:00:00Z", 3, "P9")
        .add("2026-03-02T12:30:00Z", "closed", 3, json!({"side": "a"}))
        .add("2026-03-02T12:31:00Z", "closed", 3, json!({"side": "b", "by_bridge": true}))
        .escalate("2026-03-02T13:00:00Z", 4, "P9")
        .add("2026-03-02T13:20:00Z", "closed", 4, json!({"side": "b"}));
    let all = ledgers(&t.0, "acme", Some(&targets()), at("2026-03-03T00:00:00Z"));
    let first: Vec<Option<(Timestamp, &str)>> = all
        .iter()
        .map(|l| l.first_response.as_ref().map(|r| (r.at, r.by)))
        .collect();
    assert_eq!(
        first,
        [
            Some((at("2026-03-02T10:39:00Z"), "public_note")),
            Some((at("2026-03-02T11:00:00Z"), "public_note")),
            None,
            Some((at("2026-03-02T13:20:00Z"), "close")),
        ]
    );
    // P9 has no entry: the catch-all (24/7, 1 h response) applies.
    assert_eq!(
        result(&all[0], TargetKind::FirstResponse).outcome,
        Outcome::Met
    );
    assert_eq!(
        result(&all[0], TargetKind::FirstResponse).elapsed_secs,
        39 * 60
    );
    // Link 3 was resolved (the internal side closed it) but never answered.
    assert_eq!(all[2].resolved_at, Some(at("2026-03-02T12:30:00Z")));
    let unanswered = result(&all[2], TargetKind::FirstResponse);
    assert_eq!(
        (unanswered.outcome, unanswered.elapsed_secs),
        (Outcome::Breached, 12 * 3600)
    );
    // Without custody entries the MSP holds it from the escalation to the close.
    assert_eq!(all[3].custody.len(), 1);
    assert_eq!(
        (all[3].custody[0].side, all[3].custody[0].secs),
        (Side::B, 20 * 60)
    );
}

/// Open escalations as of a moment: open, near, breached; a lasting pause
/// stops the clock (no due time); a reopen clears the resolution; a
/// re-prioritised ticket is measured against its new priority.
#[test]
fn open_escalations_as_of_a_moment() {
    let mut t = Trail::default();
    t.escalate("2026-03-02T10:00:00Z", 1, "P9")
        .escalate("2026-03-02T10:00:00Z", 2, "P9")
        .add("2026-03-02T10:10:00Z", "status_changed", 2, json!({"side": "b", "to": "Waiting Customer", "closed": false, "at": "2026-03-02T10:10:00Z"}))
        .escalate("2026-03-02T10:00:00Z", 3, "P9")
        .add("2026-03-02T10:20:00Z", "closed", 3, json!({"side": "a"}))
        .add("2026-03-02T10:30:00Z", "status_changed", 3, json!({"side": "a", "to": "In Progress", "written": "In Progress", "closed": false}))
        .escalate("2026-03-02T10:00:00Z", 4, "P9")
        .add("2026-03-02T10:01:00Z", "priority_changed", 4, json!({"side": "a", "to": "High", "written": "P2"}))
        .add("2026-03-02T10:48:05Z", "target_near_breach", 1, json!({"target": "first_response"}));
    let as_of = |s| ledgers(&t.0, "acme", Some(&targets()), at(s));
    let outcome = |ls: &[LinkLedger], i: usize| result(&ls[i], TargetKind::FirstResponse).outcome;

    let early = as_of("2026-03-02T10:30:00Z");
    assert_eq!(outcome(&early, 0), Outcome::Open);
    assert_eq!(early[0].alerts.len(), 0, "the alert entry is after as_of");
    let near = as_of("2026-03-02T10:50:00Z");
    assert_eq!(outcome(&near, 0), Outcome::Near);
    assert_eq!(near[0].alerts.len(), 1);
    let late = as_of("2026-03-02T11:00:00Z");
    assert_eq!(outcome(&late, 0), Outcome::Breached);
    let r = result(&late[0], TargetKind::FirstResponse);
    assert_eq!(
        (r.due, r.near_at),
        (
            Some(at("2026-03-02T11:00:00Z")),
            Some(at("2026-03-02T10:48:00Z"))
        )
    );
    // Paused since 10:10 (10 minutes counted): no due time, never breached;
    // setting the pause status was the response.
    let paused = result(&late[1], TargetKind::Resolution);
    assert_eq!(
        (paused.elapsed_secs, paused.due, paused.outcome),
        (600, None, Outcome::Open)
    );
    assert_eq!(
        late[1].first_response.as_ref().map(|r| r.by),
        Some("status_change")
    );
    // Closed at 10:20, reopened at 10:30.
    assert_eq!(late[2].resolved_at, None);
    // Raised to P2 (office hours; Mon 2026-03-02 11:00 CET is inside them).
    assert_eq!(late[3].priority.as_deref(), Some("P2"));
    assert_eq!(
        result(&late[3], TargetKind::FirstResponse).target_label,
        "P2"
    );
    assert!(ledgers(&t.0, "other", Some(&targets()), at("2026-03-03T00:00:00Z")).is_empty());
    assert!(ledgers(&t.0, "acme", None, at("2026-03-03T00:00:00Z"))
        .iter()
        .all(|l| l.targets.is_empty()));
}
