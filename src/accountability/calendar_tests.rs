//! Table tests with hand-calculated expectations: weekends, holidays, both
//! DST changes in Europe/Berlin and America/New_York, 24/7, split days.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;

fn at(s: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn weekdays(tz: Tz, ranges: &[&str], holidays: &[&str]) -> Calendar {
    let day: Vec<DayRange> = ranges.iter().map(|r| DayRange::parse(r).unwrap()).collect();
    let mut week: [Vec<DayRange>; 7] = Default::default();
    for d in week.iter_mut().take(5) {
        *d = day.clone();
    }
    let holidays = holidays
        .iter()
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
        .collect();
    Calendar::new(tz, week, holidays).unwrap()
}

fn sundays(tz: Tz, range: &str) -> Calendar {
    let mut week: [Vec<DayRange>; 7] = Default::default();
    week[6] = vec![DayRange::parse(range).unwrap()];
    Calendar::new(tz, week, BTreeSet::new()).unwrap()
}

fn berlin_office() -> Calendar {
    weekdays(chrono_tz::Europe::Berlin, &["08:00-17:00"], &[])
}

/// (calendar, start, business seconds, expected end): `add_business_secs`
/// gives the end, and `business_secs(start, end)` gives the seconds back.
#[test]
fn due_times_match_hand_calculations() {
    let new_york = weekdays(chrono_tz::America::New_York, &["09:00-17:00"], &[]);
    let christmas = weekdays(
        chrono_tz::Europe::Berlin,
        &["08:00-17:00"],
        &["2026-12-24", "2026-12-25"],
    );
    let split = weekdays(
        chrono_tz::Europe::Berlin,
        &["08:00-12:00", "13:00-17:00"],
        &[],
    );
    let h = 3600;
    let cases: Vec<(&str, Calendar, &str, i64, &str)> = vec![
        // Fri 15:00 CET: 2 h on Friday, 2 h on Monday from 08:00 → Mon 10:00 CET.
        (
            "weekend",
            berlin_office(),
            "2026-01-16T14:00:00Z",
            4 * h,
            "2026-01-19T09:00:00Z",
        ),
        // Starting on Saturday: the clock starts Monday 08:00 CET.
        (
            "start on a weekend",
            berlin_office(),
            "2026-01-17T10:00:00Z",
            h,
            "2026-01-19T08:00:00Z",
        ),
        // Berlin springs forward on Sun 2026-03-29: Fri 16:00 CET + 1 h, Mon
        // 08:00–11:00 CEST (UTC+2) → 09:00Z, not 10:00Z.
        (
            "Berlin spring forward",
            berlin_office(),
            "2026-03-27T15:00:00Z",
            4 * h,
            "2026-03-30T09:00:00Z",
        ),
        // Berlin falls back on Sun 2026-10-25: Fri 16:00 CEST + 1 h, Mon
        // 08:00–11:00 CET (UTC+1) → 10:00Z.
        (
            "Berlin fall back",
            berlin_office(),
            "2026-10-23T14:00:00Z",
            4 * h,
            "2026-10-26T10:00:00Z",
        ),
        // New York springs forward on Sun 2026-03-08: Fri 16:00 EST (21:00Z)
        // + 1 h, Mon 09:00–10:00 EDT (UTC−4) → 14:00Z.
        (
            "New York spring forward",
            new_york.clone(),
            "2026-03-06T21:00:00Z",
            2 * h,
            "2026-03-09T14:00:00Z",
        ),
        // New York falls back on Sun 2026-11-01: Fri 16:00 EDT (20:00Z) + 1 h,
        // Mon 09:00–10:00 EST (UTC−5) → 15:00Z.
        (
            "New York fall back",
            new_york,
            "2026-10-30T20:00:00Z",
            2 * h,
            "2026-11-02T15:00:00Z",
        ),
        // Wed 2026-12-23 16:00 CET + 1 h; Thu 24 and Fri 25 are holidays; Mon 08:00–10:00 CET.
        (
            "holidays",
            christmas,
            "2026-12-23T15:00:00Z",
            3 * h,
            "2026-12-28T09:00:00Z",
        ),
        // Mon 11:00 CET: 11–12, lunch, 13–14 → 14:00 CET.
        (
            "lunch break",
            split,
            "2026-01-19T10:00:00Z",
            2 * h,
            "2026-01-19T13:00:00Z",
        ),
        (
            "24/7",
            Calendar::always(),
            "2026-03-28T23:30:00Z",
            5 * h,
            "2026-03-29T04:30:00Z",
        ),
        // Sundays 01:00–04:00 local on the spring-forward day: 01:00–02:00
        // CET (00:00Z–01:00Z), then 03:00–04:00 CEST (01:00Z–02:00Z).
        (
            "hours across the gap",
            sundays(chrono_tz::Europe::Berlin, "01:00-04:00"),
            "2026-03-28T23:00:00Z",
            90 * 60,
            "2026-03-29T01:30:00Z",
        ),
        // On the fall-back day the hours hold 02:00–03:00 twice: 01:00 CEST
        // (23:00Z) + 1 h → 02:00 CEST (00:00Z) + 1 h → 02:00 CET (01:00Z) + 30 min.
        (
            "hours across the repeated hour",
            sundays(chrono_tz::Europe::Berlin, "01:00-04:00"),
            "2026-10-24T22:00:00Z",
            150 * 60,
            "2026-10-25T01:30:00Z",
        ),
    ];
    for (name, calendar, start, secs, end) in cases {
        assert_eq!(
            calendar.add_business_secs(at(start), secs),
            Some(at(end)),
            "{name}: due time"
        );
        assert_eq!(
            calendar.business_secs(at(start), at(end)),
            secs,
            "{name}: business seconds"
        );
    }
}

/// Whole local days on the DST change days.
#[test]
fn dst_days_have_their_real_length() {
    let h = 3600;
    let berlin_24_7 = Calendar::all_week(chrono_tz::Europe::Berlin, BTreeSet::new());
    let cases: Vec<(&str, Calendar, &str, &str, i64)> = vec![
        // Local 2026-03-29 00:00 CET → 2026-03-30 00:00 CEST: 23 hours.
        (
            "24/7 spring day",
            berlin_24_7.clone(),
            "2026-03-28T23:00:00Z",
            "2026-03-29T22:00:00Z",
            23 * h,
        ),
        // Local 2026-10-25 00:00 CEST → 2026-10-26 00:00 CET: 25 hours.
        (
            "24/7 autumn day",
            berlin_24_7,
            "2026-10-24T22:00:00Z",
            "2026-10-25T23:00:00Z",
            25 * h,
        ),
        // 01:00–04:00 local holds 2 hours on the spring day, 4 on the autumn day.
        (
            "3 h range, spring day",
            sundays(chrono_tz::Europe::Berlin, "01:00-04:00"),
            "2026-03-28T12:00:00Z",
            "2026-03-29T12:00:00Z",
            2 * h,
        ),
        (
            "3 h range, autumn day",
            sundays(chrono_tz::Europe::Berlin, "01:00-04:00"),
            "2026-10-24T12:00:00Z",
            "2026-10-25T12:00:00Z",
            4 * h,
        ),
        // A whole weekend counts nothing; a whole week 5 × 9 hours.
        (
            "weekend",
            berlin_office(),
            "2026-01-17T00:00:00Z",
            "2026-01-19T00:00:00Z",
            0,
        ),
        (
            "week",
            berlin_office(),
            "2026-01-18T00:00:00Z",
            "2026-01-25T00:00:00Z",
            45 * h,
        ),
        (
            "backwards",
            berlin_office(),
            "2026-01-20T00:00:00Z",
            "2026-01-19T00:00:00Z",
            0,
        ),
    ];
    for (name, calendar, from, to, secs) in cases {
        assert_eq!(calendar.business_secs(at(from), at(to)), secs, "{name}");
    }
}

#[test]
fn ranges_crossing_midnight_overlapping_or_malformed_are_refused() {
    let err = DayRange::parse("22:00-06:00").unwrap_err();
    assert!(err.contains("cannot cross midnight"), "{err}");
    for bad in [
        "08:00",
        "8:00-17:00",
        "08:00-25:00",
        "24:00-24:00",
        "08:60-09:00",
        "x-y",
    ] {
        assert!(DayRange::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        DayRange::parse("00:00-24:00").unwrap(),
        DayRange {
            start: 0,
            end: 86_400
        }
    );
    let mut week: [Vec<DayRange>; 7] = Default::default();
    week[0] = vec![
        DayRange::parse("08:00-12:00").unwrap(),
        DayRange::parse("11:00-13:00").unwrap(),
    ];
    let err = Calendar::new(chrono_tz::UTC, week, BTreeSet::new()).unwrap_err();
    assert_eq!(err, "mon: ranges 08:00-12:00 and 11:00-13:00 overlap");
    let err = Calendar::new(chrono_tz::UTC, Default::default(), BTreeSet::new()).unwrap_err();
    assert!(err.contains("no business hours"), "{err}");
}

proptest! {
    /// Adding business seconds and counting them back agree, on any start
    /// (weekends and both 2026 DST changes included).
    #[test]
    fn adding_and_counting_agree(start in 1_767_225_600i64..1_798_761_600, secs in 0i64..400_000) {
        let calendar = berlin_office();
        let start = DateTime::from_timestamp(start, 0).unwrap();
        let end = calendar.add_business_secs(start, secs).unwrap();
        prop_assert!(end >= start);
        prop_assert_eq!(calendar.business_secs(start, end), secs);
    }
}
