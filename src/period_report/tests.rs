//! A scripted month of tickets written through the store's real audit API
//! on a manual clock, and the report's figures against hand-computed ones.

use chrono::{Duration, TimeZone, Utc};
use psa_connector::Timestamp;
use serde_json::{json, Value};

use super::figures::Stats;
use super::render::{self, EvidenceNote};
use super::*;
use crate::clock::{Clock, ManualClock};
use crate::evidence::bundle::{build as cut, Sides};
use crate::evidence::{verify_chain, Bundle};
use crate::store::{AuditRecord, Store};

pub(super) fn nov(day: u32, hour: u32, min: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, day, hour, min, 0).unwrap()
}

pub(super) struct Event {
    pub at: Timestamp,
    pub kind: &'static str,
    pub pairing: &'static str,
    pub link: u64,
    pub tickets: Vec<String>,
    pub message: String,
    pub detail: Value,
}

/// Keys of acme link `n`: autotask ticket `10n` (number T100n) and, once
/// created, ConnectWise ticket `500n` (number CW-500n).
pub(super) fn keys(n: u64, far: bool) -> Vec<String> {
    let mut k = vec![format!("at:10{n}"), format!("at:T100{n}")];
    if far {
        k.extend([format!("cw:500{n}"), format!("cw:CW-500{n}")]);
    }
    k
}

pub(super) fn ev(at: Timestamp, kind: &'static str, link: u64, detail: Value) -> Event {
    Event {
        at,
        kind,
        pairing: "acme",
        link,
        tickets: keys(link, kind != "escalated"),
        message: format!("{kind} on link {link}"),
        detail,
    }
}

pub(super) fn escalated(at: Timestamp, link: u64) -> Vec<Event> {
    vec![
        ev(at, "escalated", link, json!({})),
        ev(
            at + Duration::minutes(1),
            "delivered",
            link,
            json!({ "op": link * 100 }),
        ),
    ]
}

pub(super) fn note(at: Timestamp, link: u64, side: &str) -> Event {
    ev(
        at,
        "note_planned",
        link,
        json!({ "side": side, "comment": "c", "visibility": "public", "created_at": at }),
    )
}

pub(super) fn closed(at: Timestamp, link: u64, side: &str, by_bridge: bool) -> Event {
    let detail = if by_bridge {
        json!({ "side": side, "by_bridge": true })
    } else {
        json!({ "side": side })
    };
    ev(at, "closed", link, detail)
}

pub(super) fn custody(at: Timestamp, link: u64, side: &str, person: Value, group: Value) -> Event {
    ev(
        at,
        "custody",
        link,
        json!({ "side": side, "person": person, "group": group, "at": at }),
    )
}

pub(super) fn dead(at: Timestamp, link: u64, op: u64) -> Event {
    ev(at, "dead_letter", link, json!({ "op": op, "status": 500 }))
}

/// The month (hand-computed figures in [`a_scripted_month_gives_the_hand_computed_figures`]).
fn month() -> Vec<Event> {
    let mut events = Vec::new();
    // Link 1: first response after 1h (a receiving-side note), closed by
    // the MSP after 24h; the bridge's echo close on side a does not count.
    events.extend(escalated(nov(2, 9, 0), 1));
    events.push(custody(
        nov(2, 9, 30),
        1,
        "b",
        json!({ "id": "u7", "name": "Dana Reyes", "email": "dana@msp.example" }),
        json!("Tier 2"),
    ));
    events.push(custody(
        nov(2, 9, 40),
        1,
        "a",
        Value::Null,
        json!("Service Desk"),
    ));
    events.push(note(nov(2, 10, 0), 1, "b"));
    events.push(closed(nov(3, 9, 0), 1, "b", false));
    events.push(closed(nov(3, 9, 1), 1, "a", true));
    // Link 2: a person on the MSP side changed its status after 20 min;
    // the internal side closed after 6h.
    events.extend(escalated(nov(5, 14, 0), 2));
    events.push(ev(
        nov(5, 14, 20),
        "status_changed",
        2,
        json!({ "side": "b", "from": "New", "to": "In Progress", "closed": false, "at": nov(5, 14, 20) }),
    ));
    events.push(closed(nov(5, 20, 0), 2, "a", false));
    // Link 3: the internal side's own note is no response; the MSP's after 4h; never closed.
    events.extend(escalated(nov(10, 8, 0), 3));
    events.push(note(nov(10, 8, 30), 3, "a"));
    events.push(note(nov(10, 12, 0), 3, "b"));
    events.push(dead(nov(10, 9, 0), 3, 901));
    events.push(ev(nov(10, 11, 0), "requeued", 3, json!({ "op": 901 })));
    events.push(ev(nov(10, 11, 1), "delivered", 3, json!({ "op": 901 })));
    // Link 4: closed by the MSP after 48h, which is also its first response.
    events.extend(escalated(nov(20, 10, 0), 4));
    events.push(dead(nov(21, 8, 0), 4, 902));
    let mut discarded = ev(
        nov(21, 12, 0),
        "discarded",
        4,
        json!({ "op": 902, "reason": "duplicate" }),
    );
    discarded.message = "by an operator (duplicate): discarded dead operation 902".into();
    events.push(discarded);
    events.push(closed(nov(22, 10, 0), 4, "b", false));
    // Link 5: escalated before the period; its close inside does not count
    // (the ledger needs the escalation): listed as escalated earlier.
    events.extend(escalated(nov(1, 0, 0) - Duration::days(2), 5));
    events.push(closed(nov(4, 0, 0), 5, "b", false));
    // Link 6: escalated in the last hour; answered after the period.
    events.extend(escalated(nov(30, 23, 0), 6));
    events.push(note(nov(30, 23, 0) + Duration::hours(2), 6, "b"));
    // Link 7: the internal side's change to the MSP is no response; the
    // MSP's note after 2h30m; owners changed twice; closed after 48h.
    events.extend(escalated(nov(12, 9, 0), 7));
    events.push(ev(
        nov(12, 9, 5),
        "planned",
        7,
        json!({ "target": "b", "fields": ["priority"] }),
    ));
    for (at, name) in [(nov(12, 10, 0), "Eve"), (nov(13, 10, 0), "Frank")] {
        events.push(custody(
            at,
            7,
            "b",
            json!({ "id": name, "name": name, "email": null }),
            Value::Null,
        ));
    }
    events.push(note(nov(12, 11, 30), 7, "b"));
    events.push(closed(nov(14, 9, 0), 7, "b", false));
    events.push(dead(nov(29, 9, 0), 7, 903));
    // Another client on the same ConnectWise connection, all month long.
    for day in 1..=30 {
        for kind in ["escalated", "note_planned", "dead_letter"] {
            events.push(Event {
                at: nov(day, 9, 0),
                kind,
                pairing: "globex",
                link: 90 + u64::from(day),
                tickets: vec![format!("cw:GLOBEX-{day}"), format!("sn:INC00{day}")],
                message: format!("globex confidential {day}"),
                detail: json!({ "op": 9000 + day, "side": "b", "secret": "globex detail" }),
            });
        }
    }
    events
}

/// Writes `events` in time order through `Store::transact`/`Tx::audit`.
pub(super) fn store_with(events: Vec<Event>) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    let mut events = events;
    events.sort_by_key(|e| e.at);
    let clock = ManualClock::new(events[0].at);
    for e in &events {
        clock.advance(e.at - clock.now());
        store
            .transact(|tx| {
                tx.audit(
                    clock.now(),
                    AuditRecord {
                        kind: e.kind,
                        pairing: Some(e.pairing),
                        link: Some(e.link),
                        tickets: e.tickets.clone(),
                        message: e.message.clone(),
                        detail: e.detail.clone(),
                    },
                )
            })
            .unwrap();
    }
    (dir, store)
}

pub(super) fn acme_body(store: &Store) -> Body {
    cut(
        &store.audit_entries().unwrap(),
        "acme",
        Sides {
            a: "at".into(),
            b: "cw".into(),
        },
        nov(1, 0, 0),
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap(),
    )
}

#[test]
fn a_scripted_month_gives_the_hand_computed_figures() {
    let (_d, store) = store_with(month());
    let body = acme_body(&store);
    verify_chain(&body).unwrap();
    let report = build(&body, None);

    let links: Vec<u64> = report.escalations.iter().map(|e| e.link).collect();
    assert_eq!(
        links,
        vec![1, 2, 3, 7, 4, 6],
        "escalated in the period, in order"
    );
    let e1 = &report.escalations[0];
    assert_eq!(
        (
            e1.origin,
            e1.origin_ticket.as_str(),
            e1.target_ticket.as_deref()
        ),
        (crate::store::Side::A, "T1001", Some("CW-5001"))
    );
    assert_eq!(
        e1.target_owner.as_deref(),
        Some("Dana Reyes <dana@msp.example> (Tier 2)")
    );
    assert_eq!(e1.origin_owner.as_deref(), Some("nobody (Service Desk)"));
    assert_eq!(report.escalations[3].target_owner.as_deref(), Some("Frank"));
    assert_eq!(report.escalations[1].target_owner, None);

    let secs = |f: fn(&Escalation) -> Option<Duration>| -> Vec<Option<i64>> {
        report
            .escalations
            .iter()
            .map(|e| f(e).map(|d| d.num_minutes()))
            .collect()
    };
    assert_eq!(
        secs(|e| e.times.first_response),
        vec![Some(60), Some(20), Some(240), Some(150), Some(2880), None]
    );
    assert_eq!(
        secs(|e| e.times.resolution),
        vec![Some(1440), Some(360), None, Some(2880), Some(2880), None]
    );
    let m = Duration::minutes;
    // First response: 20, 60, 150, 240, 2880 min → p50 = 3rd, p90 = 5th.
    assert_eq!(
        report.first_response,
        Some(Stats {
            count: 5,
            p50: m(150),
            p90: m(2880),
            max: m(2880)
        })
    );
    // Resolution: 360, 1440, 2880, 2880 min → p50 = 2nd, p90 = 4th.
    assert_eq!(
        report.resolution,
        Some(Stats {
            count: 4,
            p50: m(1440),
            p90: m(2880),
            max: m(2880)
        })
    );

    let dead: Vec<(u64, &Ending)> = report
        .dead_letters
        .iter()
        .map(|d| (d.op, &d.ending))
        .collect();
    assert_eq!(
        dead,
        vec![
            (
                901,
                &Ending::Retried {
                    at: nov(10, 11, 0),
                    message: "requeued on link 3".into(),
                    delivered_at: Some(nov(10, 11, 1))
                }
            ),
            (
                902,
                &Ending::Discarded {
                    at: nov(21, 12, 0),
                    reason: Some("duplicate".into())
                }
            ),
            (903, &Ending::Open),
        ]
    );
    assert!(report.owners_recorded);
    assert_eq!(report.targets, None);
    assert_eq!(report.earlier_links, vec![5]);

    // The same figures from the bundle file read back: the evidence
    // reproduces the report.
    let bytes = Bundle::new(body.clone()).to_json().unwrap();
    let read = Bundle::parse("b", &bytes).unwrap();
    assert_eq!(build(&read.body, None), report);
}

#[test]
fn markdown_and_csv_say_the_figures() {
    let (_d, store) = store_with(month());
    let body = acme_body(&store);
    let chain = verify_chain(&body).unwrap();
    let report = build(&body, None);
    let text = render::markdown(
        &report,
        &EvidenceNote {
            file: "evidence-bundle.json",
            chain: &chain,
            signed_by: vec![],
        },
    );
    for expected in [
        "| Tickets escalated | 6 |",
        "| Resolved in the period | 4 |",
        "| First response | p50 2h 30m · p90 2d 00h 00m · max 2d 00h 00m (5 of 6) |",
        "| Resolution | p50 1d 00h 00m · p90 2d 00h 00m · max 2d 00h 00m (4 of 6) |",
        "| Response targets | no targets configured |",
        "Times are wall-clock time from the escalation.",
        "Links escalated before the period, not measured here",
        "| 1 | cw | Dana Reyes \\<dana@msp.example\\> (Tier 2) | 2026-11-02 09:30 UTC | 2026-11-03 09:00 UTC | 23h 30m |",
        "| Dead letters | 3 (retried 1, discarded 1, still dead 1) |",
        "| 1 | 2026-11-02 09:00 UTC | at T1001 | cw CW-5001 | - | 2026-11-02 10:00 UTC (1h 00m) | 2026-11-03 09:00 UTC (1d 00h 00m) | Dana Reyes \\<dana@msp.example\\> (Tier 2) | nobody (Service Desk) |",
        "→ retried 2026-11-10 11:00 UTC (requeued on link 3), delivered 2026-11-10 11:01 UTC",
        "→ discarded 2026-11-21 12:00 UTC (reason: duplicate)",
        "→ still dead at the end of the period",
        "Not signed.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let csv = render::csv(&report);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 7, "{csv}");
    assert_eq!(
        rows[1],
        "1,2026-11-02T09:00:00Z,at,T1001,cw,CW-5001,,,2026-11-02T10:00:00Z,3600,3600,,,\
         2026-11-03T09:00:00Z,86400,86400,,,Dana Reyes <dana@msp.example> (Tier 2),nobody (Service Desk),\
         cw: nobody 2026-11-02T09:00:00Z..2026-11-02T09:30:00Z; \
         cw: Dana Reyes <dana@msp.example> (Tier 2) 2026-11-02T09:30:00Z..2026-11-03T09:00:00Z; \
         at: nobody (Service Desk) 2026-11-02T09:40:00Z..2026-11-03T09:00:00Z"
    );
    assert!(
        rows[6].starts_with("6,2026-11-30T23:00:00Z,at,T1006,cw,CW-5006,,,,,,,,,,,,,"),
        "{}",
        rows[6]
    );
    for text in [&text, &csv] {
        assert!(
            !text.contains("globex") && !text.contains("GLOBEX"),
            "{text}"
        );
    }
}

#[test]
fn vendor_text_cannot_break_the_csv_or_the_table() {
    let mut events = escalated(nov(2, 9, 0), 1);
    events.push(custody(
        nov(2, 9, 30),
        1,
        "b",
        json!({ "id": "x", "name": "=HYPERLINK(\"http://evil\"),\"x\"\n| injected |" }),
        Value::Null,
    ));
    let (_d, store) = store_with(events);
    let report = build(&acme_body(&store), None);
    let csv = render::csv(&report);
    assert_eq!(
        csv.lines().count(),
        3,
        "a quoted newline stays in its cell: {csv}"
    );
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"http://evil\"\"),\"\"x\"\"\n| injected |\","),
        "{csv}"
    );
    let chain = verify_chain(&acme_body(&store)).unwrap();
    let text = render::markdown(
        &report,
        &EvidenceNote {
            file: "b",
            chain: &chain,
            signed_by: vec![],
        },
    );
    assert!(text.contains("\\| injected \\|"), "{text}");
}
