//! `[targets]` in a mapping: a valid section resolves; each mistake is
//! refused naming the field, its line and the valid choices.

use std::path::Path;

use super::*;
use crate::store::Side;

/// The demo mapping (Autotask → ConnectWise, the MSP on side b) plus `targets`.
fn mapping_with(targets: &str) -> (String, Result<Targets, ConfigError>) {
    let base = include_str!("../../mappings/autotask-to-connectwise.toml");
    let text = format!("{base}\n{targets}");
    let mapping: Mapping = toml::from_str(&text).unwrap();
    let file = Path::new("m.toml");
    let resolved = mapping.validate(file, &text).and_then(|()| {
        mapping
            .targets
            .as_ref()
            .unwrap()
            .resolve(&mapping, file, &text)
    });
    (text, resolved)
}

const VALID: &str = r#"
[targets]
near_breach = 0.75
pause_statuses = ["Waiting Customer"]
note = true

[targets.calendars.office]
time_zone = "Europe/Berlin"
mon = ["08:00-12:00", "13:00-17:00"]
fri = ["08:00-15:00"]
holidays = ["2026-12-25"]

[[targets.priority]]
label = "Priority 1 - Emergency Response"
first_response = "30m"
resolution = "4h"

[[targets.priority]]
label = "*"
first_response = "4h"
resolution = "2d"
calendar = "office"
"#;

#[test]
fn a_valid_section_resolves() {
    let (_, targets) = mapping_with(VALID);
    let targets = targets.unwrap();
    assert_eq!(targets.msp_side, Side::B);
    assert_eq!(targets.near_breach, 0.75);
    assert!(targets.note);
    assert!(targets.pause_statuses.contains("Waiting Customer"));
    let p1 = targets
        .for_priority(Some("Priority 1 - Emergency Response"))
        .unwrap();
    assert_eq!(
        (p1.first_response, p1.resolution),
        (Some(1800), Some(14_400))
    );
    assert_eq!(p1.calendar_name, "24/7");
    let other = targets
        .for_priority(Some("Priority 3 - Normal Response"))
        .unwrap();
    assert_eq!(other.label, "*");
    assert_eq!(other.calendar_name, "office");
    assert_eq!(other.calendar.time_zone(), chrono_tz::Europe::Berlin);
    assert_eq!(targets.for_priority(None).unwrap().label, "*");
}

#[test]
fn mistakes_are_refused_with_the_field_and_the_valid_choices() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("unknown priority", r#"label = "Priority 1 - Emergency Response""#, r#"label = "Urgent""#,
         "targets.priority[0].label: \"Urgent\" is not a side b (MSP) priority of the mapping; it has: Priority 1 - Emergency Response, Priority 2"),
        ("bad duration", r#"first_response = "30m""#, r#"first_response = "30 minutes""#,
         "targets.priority[0].first_response: \"30 minutes\" is not a duration"),
        ("bad time zone", "Europe/Berlin", "Europe/Berlim",
         "targets.calendars.office.time_zone: \"Europe/Berlim\" is not an IANA time zone name; e.g. Europe/Amsterdam, Europe/Andorra"),
        ("overlapping ranges", r#""13:00-17:00""#, r#""11:00-17:00""#,
         "targets.calendars.office: mon: ranges 08:00-12:00 and 11:00-17:00 overlap"),
        ("midnight", r#"fri = ["08:00-15:00"]"#, r#"fri = ["22:00-06:00"]"#,
         "targets.calendars.office.fri[0]: \"22:00-06:00\" ends before it starts: a range cannot cross midnight"),
        ("unknown pause status", r#"["Waiting Customer"]"#, r#"["Waiting Vendor"]"#,
         "targets.pause_statuses[0]: \"Waiting Vendor\" is not a side b (MSP) status of the mapping; it has: New, In Progress, Waiting Customer, >Closed, Resolved"),
        ("unknown calendar", r#"calendar = "office""#, r#"calendar = "ofice""#,
         "targets.priority[1].calendar: no calendar \"ofice\"; known: 24/7, office"),
        ("threshold", "near_breach = 0.75", "near_breach = 1.5",
         "targets.near_breach: 1.5 is out of range"),
        ("bad holiday", "2026-12-25", "2026-12-32",
         "targets.calendars.office.holidays[0]: \"2026-12-32\" is not a date"),
        ("duplicate label", r#"label = "*""#, r#"label = "Priority 1 - Emergency Response""#,
         "has targets twice"),
    ];
    for (name, from, to, expected) in cases {
        assert!(VALID.contains(from), "{name}: {from}");
        let (text, result) = mapping_with(&VALID.replacen(from, to, 1));
        let error = result.expect_err(name).to_string();
        assert!(error.contains(expected), "{name}: {error}");
        // The line points at the offending value.
        let line: usize = error.split(':').nth(1).unwrap().parse().unwrap();
        let wanted = to.split('"').nth(1).unwrap_or(to);
        assert!(
            text.lines().nth(line - 1).unwrap().contains(wanted) || *name == "overlapping ranges",
            "{name}: line {line} of {error}"
        );
    }
}

/// The commented example in the shipped mapping, uncommented, is valid.
#[test]
fn the_documented_example_is_valid() {
    let base = include_str!("../../mappings/autotask-to-connectwise.toml");
    let begin = "#-- targets example begin\n";
    let start = base.find(begin).unwrap() + begin.len();
    let end = base.find("#-- targets example end").unwrap();
    let example: String = base[start..end]
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .or_else(|| l.strip_prefix('#'))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (_, targets) = mapping_with(&example);
    let targets = targets.unwrap();
    assert_eq!(targets.priorities.len(), 2);
    assert_eq!(targets.priorities[1].calendar_name, "office");
    assert_eq!(targets.priorities[1].resolution, Some(27 * 3600));
}
