//! Business calendars for response targets: a time zone (IANA name), weekly
//! hours per weekday (several ranges a day), holidays, or 24/7.
//!
//! Business time is the set of instants whose *local* date is not a holiday
//! and whose local time of day falls in one of that weekday's ranges. So the
//! spring-forward gap (a local hour that never happens) counts nothing and the
//! autumn repeated hour counts twice when it lies inside the hours (it really
//! passed twice). Ranges are `HH:MM-HH:MM` with the end after the start
//! (`24:00` ends at midnight); a range crossing midnight is refused: write it
//! as two ranges on the two days.
//!
//! Computation: the time line is cut where the zone's UTC offset changes;
//! inside one such segment local time is UTC plus a fixed offset, so the
//! weekly hours map back to UTC exactly ([`Calendar::intervals_from`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

pub type Timestamp = DateTime<Utc>;

const DAY_SECS: u32 = 86_400;
/// How far ahead [`Calendar::add_business_secs`] looks before giving up.
const HORIZON_DAYS: i64 = 366 * 20;

/// One range of a day, in seconds from local midnight: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DayRange {
    pub start: u32,
    pub end: u32,
}

impl DayRange {
    /// Parses `HH:MM-HH:MM` (end `24:00` allowed; the end must come after the start).
    pub fn parse(text: &str) -> Result<DayRange, String> {
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not a range like \"08:00-17:00\""))?;
        let start = parse_time(start.trim(), false)?;
        let end = parse_time(end.trim(), true)?;
        if end <= start {
            return Err(format!(
                "{text:?} ends before it starts: a range cannot cross midnight; give it as two ranges, e.g. \"22:00-24:00\" on one day and \"00:00-06:00\" on the next"
            ));
        }
        Ok(DayRange { start, end })
    }
}

fn parse_time(text: &str, end: bool) -> Result<u32, String> {
    let bad = || format!("{text:?} is not a time of day like \"08:30\" (00:00 to 24:00)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let secs = h * 3600 + m * 60;
    if m >= 60 || secs > DAY_SECS || (secs == DAY_SECS && !end) {
        return Err(bad());
    }
    Ok(secs)
}

/// A business calendar (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    tz: Tz,
    /// Index 0 is Monday; each day's ranges sorted and disjoint.
    week: [Vec<DayRange>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// Every second counts, in UTC, no holidays.
    pub fn always() -> Calendar {
        Calendar::all_week(chrono_tz::UTC, BTreeSet::new())
    }

    /// Every second counts except on `holidays` (local dates in `tz`).
    pub fn all_week(tz: Tz, holidays: BTreeSet<NaiveDate>) -> Calendar {
        let day = vec![DayRange {
            start: 0,
            end: DAY_SECS,
        }];
        Calendar {
            tz,
            week: std::array::from_fn(|_| day.clone()),
            holidays,
        }
    }

    /// Weekly hours (`week[0]` is Monday). Refuses overlapping ranges and a
    /// week without any hours.
    pub fn new(
        tz: Tz,
        mut week: [Vec<DayRange>; 7],
        holidays: BTreeSet<NaiveDate>,
    ) -> Result<Calendar, String> {
        for (i, day) in week.iter_mut().enumerate() {
            day.sort();
            if let Some(w) = day.windows(2).find(|w| w[1].start < w[0].end) {
                return Err(format!(
                    "{}: ranges {} and {} overlap",
                    WEEKDAYS[i],
                    show(w[0]),
                    show(w[1])
                ));
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err("no business hours on any day".into());
        }
        Ok(Calendar { tz, week, holidays })
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// Business seconds in `[from, to)` (0 when `to` is not after `from`).
    pub fn business_secs(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = Duration::zero();
        for (a, b) in self.intervals_from(from) {
            if a >= to {
                break;
            }
            total += b.min(to) - a.max(from);
        }
        total.num_seconds()
    }

    /// The instant at which `secs` business seconds after `start` have
    /// elapsed (`start` itself for 0); `None` if that is more than twenty
    /// years away.
    pub fn add_business_secs(&self, start: Timestamp, secs: i64) -> Option<Timestamp> {
        if secs <= 0 {
            return Some(start);
        }
        let horizon = start + Duration::days(HORIZON_DAYS);
        let mut remaining = Duration::seconds(secs);
        for (a, b) in self.intervals_from(start) {
            if a > horizon {
                return None;
            }
            let length = b - a;
            if remaining <= length {
                return Some(a + remaining);
            }
            remaining -= length;
        }
        None
    }

    /// Business intervals `[a, b)` in UTC from `from` on, in order (ends
    /// after twenty years).
    pub fn intervals_from(
        &self,
        from: Timestamp,
    ) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let end = from + Duration::days(HORIZON_DAYS + 7);
        let mut t = from;
        let mut pending = std::collections::VecDeque::new();
        std::iter::from_fn(move || loop {
            if let Some(next) = pending.pop_front() {
                return Some(next);
            }
            if t >= end {
                return None;
            }
            let offset = self.offset(t);
            let segment_end = self.next_offset_change(t, offset);
            self.segment(t, segment_end, offset, &mut pending);
            t = segment_end;
        })
    }

    /// The business intervals inside `[from, to)`, where the offset is `offset` seconds throughout.
    fn segment(
        &self,
        from: Timestamp,
        to: Timestamp,
        offset: i64,
        out: &mut std::collections::VecDeque<(Timestamp, Timestamp)>,
    ) {
        let shift = Duration::seconds(offset);
        let (lo, hi) = (from.naive_utc() + shift, to.naive_utc() + shift);
        let to_utc = |local: NaiveDateTime| Utc.from_utc_datetime(&(local - shift));
        let mut date = lo.date();
        while date <= hi.date() {
            if !self.holidays.contains(&date) {
                let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
                let weekday = date.weekday().num_days_from_monday() as usize;
                for range in &self.week[weekday] {
                    let a = (midnight + Duration::seconds(range.start.into())).max(lo);
                    let b = (midnight + Duration::seconds(range.end.into())).min(hi);
                    if a < b {
                        out.push_back((to_utc(a), to_utc(b)));
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
    }

    /// The zone's offset from UTC at `t`, in seconds.
    fn offset(&self, t: Timestamp) -> i64 {
        self.tz
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
            .into()
    }

    /// The first instant after `t` whose offset differs from `offset`, or
    /// `t` plus a week when there is none before. Offsets are probed every
    /// 6 hours, then the change is found to the second.
    fn next_offset_change(&self, t: Timestamp, offset: i64) -> Timestamp {
        let limit = t + Duration::days(7);
        let mut lo = t;
        loop {
            let hi = (lo + Duration::hours(6)).min(limit);
            if self.offset(hi) != offset {
                return self.first_change(lo, hi, offset);
            }
            if hi >= limit {
                return limit;
            }
            lo = hi;
        }
    }

    /// Between `lo` (offset `offset`) and `hi` (another offset): the first
    /// whole second with the other offset.
    fn first_change(&self, mut lo: Timestamp, mut hi: Timestamp, offset: i64) -> Timestamp {
        while hi - lo > Duration::seconds(1) {
            let mid = lo + (hi - lo) / 2;
            if self.offset(mid) == offset {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        // Offsets change on whole seconds: drop the fraction `t` carried.
        DateTime::from_timestamp(hi.timestamp(), 0)
            .filter(|whole| *whole > lo && self.offset(*whole) != offset)
            .unwrap_or(hi)
    }
}

/// Weekday keys as the mapping file spells them, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn show(range: DayRange) -> String {
    let hm = |s: u32| format!("{:02}:{:02}", s / 3600, (s % 3600) / 60);
    format!("{}-{}", hm(range.start), hm(range.end))
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
