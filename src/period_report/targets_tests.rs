//! The scripted month measured against response targets on a business
//! calendar: office hours Mon–Fri 08:00–17:00 Europe/Berlin (CET, UTC+1 in
//! November 2026, so 07:00–16:00 UTC), "Waiting Customer" paused. Every
//! figure below is computed by hand in the comments.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use super::render::{self, EvidenceNote};
use super::tests::{acme_body, closed, custody, ev, note, nov, store_with, Event};
use super::*;
use crate::accountability::calendar::{Calendar, DayRange};
use crate::accountability::targets::{PriorityTargets, TargetKind};
use crate::evidence::verify_chain;

fn office() -> Calendar {
    let mut week: [Vec<DayRange>; 7] = Default::default();
    for day in week.iter_mut().take(5) {
        *day = vec![DayRange::parse("08:00-17:00").unwrap()];
    }
    Calendar::new(chrono_tz::Europe::Berlin, week, BTreeSet::new()).unwrap()
}

/// P1: 2h response, 9h (one office day) resolution; any other: 4h / 18h.
fn targets() -> Targets {
    let office = Arc::new(office());
    let entry = |label: &str, fr: i64, res: i64| PriorityTargets {
        label: label.into(),
        first_response: Some(fr * 3600),
        resolution: Some(res * 3600),
        calendar_name: "office".into(),
        calendar: office.clone(),
    };
    Targets {
        msp_side: Side::B,
        near_breach: 0.8,
        pause_statuses: ["Waiting Customer".to_string()].into(),
        note: false,
        priorities: vec![entry("P1", 2, 9), entry("*", 4, 18)],
    }
}

fn escalate(at: Timestamp, link: u64, priority: &str) -> Vec<Event> {
    let mut e = ev(
        at,
        "escalated",
        link,
        json!({ "side": "a", "create": { "status": "New", "priority": priority } }),
    );
    e.tickets = vec![format!("at:{link}"), format!("at:T{link}")];
    let mut delivered = ev(
        at + Duration::seconds(30),
        "delivered",
        link,
        json!({ "op": link * 100 }),
    );
    delivered.tickets = vec![
        format!("at:{link}"),
        format!("at:T{link}"),
        format!("cw:{link}0"),
        format!("cw:CW-{link}0"),
    ];
    vec![e, delivered]
}

fn status(at: Timestamp, link: u64, from: &str, to: &str) -> Event {
    ev(
        at,
        "status_changed",
        link,
        json!({ "side": "b", "from": from, "to": to, "written": to, "closed": false, "at": at }),
    )
}

/// Mon 2, Fri 6, Mon 9, Tue 10, Wed 11, Thu 12, Fri 13, Mon 16 November 2026.
fn month() -> Vec<Event> {
    let mut events = Vec::new();
    // Link 11, P1, across a weekend: escalated Fri 6 15:00 UTC (16:00 CET,
    // 1 office hour left that day). The MSP's public note Mon 9 08:00 UTC:
    // 1h (Fri) + 1h (Mon 07–08 UTC) = 2h ≤ 2h, met; wall 65h. It closes
    // Mon 9 14:00 UTC: 1h + 7h (Mon 07–14) = 8h ≤ 9h, met; wall 71h.
    events.extend(escalate(nov(6, 15, 0), 11, "P1"));
    events.push(note(nov(9, 8, 0), 11, "b"));
    events.push(closed(nov(9, 14, 0), 11, "b", false));
    // Link 12, P1, paused: escalated Tue 10 08:00 UTC; the MSP sets
    // "Waiting Customer" at 09:00 (a response: 1h, met; wall 1h), back to
    // "In Progress" Wed 11 09:00; the internal side closes Wed 11 12:00:
    // 1h (Tue 08–09) + 3h (Wed 09–12) = 4h ≤ 9h, met (the paused 7h of
    // Tuesday and 2h of Wednesday morning not counted); wall 28h.
    events.extend(escalate(nov(10, 8, 0), 12, "P1"));
    events.push(status(nov(10, 9, 0), 12, "New", "Waiting Customer"));
    events.push(status(nov(11, 9, 0), 12, "Waiting Customer", "In Progress"));
    events.push(closed(nov(11, 12, 0), 12, "a", false));
    // Link 13, P2 (the `*` entry: 4h / 18h): escalated Thu 12 14:00 UTC
    // (2 office hours left that day). First response due after 2h (Thu) +
    // 2h (Fri 07–09) = Fri 13 09:00 UTC; near-breach at 0.8 × 4h = 3h12m:
    // Fri 08:12 UTC. The MSP's note Fri 13 11:00: 2h + 4h = 6h, breached
    // (the monitor recorded it at 09:00:05); wall 21h. Never resolved:
    // due after 2h + 9h (Fri) + 7h (Mon 16 07–14) = Mon 16 14:00 UTC; by
    // the end of the period 2h + 9h + 10 × 9h (16–20, 23–27 Nov) + 9h
    // (Mon 30) = 110h, breached. Dana (Tier 2) holds it from Fri 10:00.
    events.extend(escalate(nov(12, 14, 0), 13, "P2"));
    events.push(custody(
        nov(13, 10, 0),
        13,
        "b",
        json!({ "id": "u7", "name": "Dana", "email": null }),
        json!("Tier 2"),
    ));
    events.push(ev(
        nov(13, 9, 0) + Duration::seconds(5),
        "target_breached",
        13,
        json!({ "target": "first_response", "priority": "P2", "due": nov(13, 9, 0) }),
    ));
    events.push(note(nov(13, 11, 0), 13, "b"));
    events
}

#[test]
fn targets_on_a_business_calendar_give_the_hand_computed_figures() {
    let (_d, store) = store_with(month());
    let body = acme_body(&store);
    verify_chain(&body).unwrap();
    let targets = targets();
    let report = build(&body, Some(&targets));
    let h = |h: i64| Some(Duration::hours(h));

    let by_link = |l: u64| report.escalations.iter().find(|e| e.link == l).unwrap();
    let times = |l: u64| {
        let t = &by_link(l).times;
        (
            t.first_response,
            t.first_response_wall,
            t.resolution,
            t.resolution_wall,
        )
    };
    assert_eq!(times(11), (h(2), h(65), h(8), h(71)), "across a weekend");
    assert_eq!(times(12), (h(1), h(1), h(4), h(28)), "paused");
    assert_eq!(times(13), (h(6), h(21), None, None), "breached, open");
    assert_eq!(by_link(12).times.calendar.as_deref(), Some("office"));

    // Per priority: P1 (links 11, 12) all met; P2 (link 13) breached twice.
    let p1 = &report.priorities[0];
    assert_eq!(
        (
            p1.priority.as_deref(),
            p1.target_label.as_deref(),
            p1.escalations
        ),
        (Some("P1"), Some("P1"), 2)
    );
    let met2 = Counts {
        met: 2,
        ..Counts::default()
    };
    assert_eq!(
        (p1.first_response_outcomes, p1.resolution_outcomes),
        (met2, met2)
    );
    // First response 1h, 2h → p50 1h, p90 2h; resolution 4h, 8h.
    let s = |p50, p90, count| {
        Some(figures::Stats {
            count,
            p50: Duration::hours(p50),
            p90: Duration::hours(p90),
            max: Duration::hours(p90),
        })
    };
    assert_eq!(
        (&p1.first_response, &p1.resolution),
        (&s(1, 2, 2), &s(4, 8, 2))
    );
    let p2 = &report.priorities[1];
    assert_eq!(
        (
            p2.priority.as_deref(),
            p2.target_label.as_deref(),
            p2.first_response_target,
            p2.resolution_target
        ),
        (Some("P2"), Some("*"), Some(4 * 3600), Some(18 * 3600))
    );
    let breached1 = Counts {
        breached: 1,
        ..Counts::default()
    };
    assert_eq!(
        (p2.first_response_outcomes, p2.resolution_outcomes),
        (breached1, breached1)
    );

    // The breaches, with due and crossing times.
    let b: Vec<_> = report
        .breaches
        .iter()
        .map(|b| {
            (
                b.link,
                b.kind,
                b.due,
                b.crossed_at,
                b.done_at,
                b.elapsed_secs,
                b.recorded_at,
            )
        })
        .collect();
    assert_eq!(
        b,
        vec![
            (
                13,
                TargetKind::FirstResponse,
                Some(nov(13, 9, 0)),
                Some(nov(13, 9, 0)),
                Some(nov(13, 11, 0)),
                6 * 3600,
                Some(nov(13, 9, 0) + Duration::seconds(5))
            ),
            (
                13,
                TargetKind::Resolution,
                Some(nov(16, 14, 0)),
                Some(nov(16, 14, 0)),
                None,
                110 * 3600,
                None
            ),
        ]
    );
    // Custody: the MSP held link 13 unnamed from the escalation, then Dana.
    let spans: Vec<_> = by_link(13)
        .ledger
        .custody
        .iter()
        .map(|s| (owner_of(s), s.from, s.to, s.secs))
        .collect();
    assert_eq!(
        spans,
        vec![
            (
                "nobody".to_string(),
                nov(12, 14, 0),
                Some(nov(13, 10, 0)),
                20 * 3600
            ),
            (
                "Dana (Tier 2)".to_string(),
                nov(13, 10, 0),
                None,
                (Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() - nov(13, 10, 0))
                    .num_seconds()
            ),
        ]
    );

    let csv = render::csv(&report);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert_eq!(
        rows[1],
        "11,2026-11-06T15:00:00Z,at,T11,cw,CW-110,P1,office,\
         2026-11-09T08:00:00Z,7200,234000,7200,met,\
         2026-11-09T14:00:00Z,28800,255600,32400,met,,,\
         cw: nobody 2026-11-06T15:00:00Z..2026-11-09T14:00:00Z"
    );
    assert_eq!(
        rows[3],
        "13,2026-11-12T14:00:00Z,at,T13,cw,CW-130,P2,office,\
         2026-11-13T11:00:00Z,21600,75600,14400,breached,\
         ,,,64800,breached,Dana (Tier 2),,\
         cw: nobody 2026-11-12T14:00:00Z..2026-11-13T10:00:00Z; cw: Dana (Tier 2) 2026-11-13T10:00:00Z.."
    );

    let chain = verify_chain(&body).unwrap();
    let text = render::markdown(
        &report,
        &EvidenceNote {
            file: "b",
            chain: &chain,
            signed_by: vec![],
        },
    );
    for expected in [
        "| Response targets | 2 breached, 0 near at the end of the period |",
        "business time from the escalation on each priority's calendar (P1 on office (Europe/Berlin); \\* on office (Europe/Berlin)), time in the MSP statuses Waiting Customer excluded",
        "| P1 | P1, office | 2 | 2h 00m · 2 met · 0 breached · 0 near · 0 open · p50 1h 00m · p90 2h 00m · max 2h 00m (2 of 2) |",
        "| 13 | P2 | first_response | breached | 2026-11-13 09:00 UTC | 2026-11-13 09:00 UTC | 2026-11-13 11:00 UTC | 6h 00m / 4h 00m | 2026-11-13 09:00 UTC |",
        "| 13 | P2 | resolution | breached | 2026-11-16 14:00 UTC | 2026-11-16 14:00 UTC | not yet | 4d 14h 00m / 18h 00m | - |",
        "| 13 | cw | Dana (Tier 2) | 2026-11-13 10:00 UTC | end of period |",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }

    // The bundle alone (with the targets the report states) gives the same report.
    let bytes = crate::evidence::Bundle::new(body.clone())
        .to_json()
        .unwrap();
    let read = crate::evidence::Bundle::parse("b", &bytes).unwrap();
    assert_eq!(build(&read.body, Some(&targets)), report);
}
