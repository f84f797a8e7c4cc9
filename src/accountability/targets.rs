//! Response targets as the ledger and the monitor use them: per priority
//! label of the MSP side (the side opposite the pairing's trigger), a
//! first-response and a resolution target in business seconds of a
//! [`Calendar`], plus the pairing's pause statuses and near-breach
//! threshold. Built from a mapping's `[targets]` section by
//! [`crate::config::targets`], which validates it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use crate::store::Side;

/// The catch-all priority label: targets for a ticket whose priority has no
/// entry of its own (or no priority at all).
pub const ANY_PRIORITY: &str = "*";

/// Which target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// From escalation to the MSP's first response (see [`super::ledger`]).
    FirstResponse,
    /// From escalation to the first close of either ticket.
    Resolution,
}

impl TargetKind {
    pub const ALL: [TargetKind; 2] = [TargetKind::FirstResponse, TargetKind::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::FirstResponse => "first_response",
            TargetKind::Resolution => "resolution",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The targets of one priority label.
#[derive(Clone, Debug, PartialEq)]
pub struct PriorityTargets {
    /// MSP-side priority label, or [`ANY_PRIORITY`].
    pub label: String,
    /// Business seconds to the first response.
    pub first_response: Option<i64>,
    /// Business seconds to resolution.
    pub resolution: Option<i64>,
    /// The calendar's name in the mapping (`24/7` built in).
    pub calendar_name: String,
    pub calendar: Arc<Calendar>,
}

impl PriorityTargets {
    pub fn secs(&self, kind: TargetKind) -> Option<i64> {
        match kind {
            TargetKind::FirstResponse => self.first_response,
            TargetKind::Resolution => self.resolution,
        }
    }
}

/// One pairing's targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Targets {
    /// The MSP's side: whose priority labels and statuses the targets name.
    pub msp_side: Side,
    /// Fraction of a target after which a near-breach is recorded (0 < x < 1).
    pub near_breach: f64,
    /// MSP-side status labels whose time does not count.
    pub pause_statuses: BTreeSet<String>,
    /// Also post an internal note on both tickets at a near-breach or breach.
    pub note: bool,
    pub priorities: Vec<PriorityTargets>,
}

impl Targets {
    /// The targets for an MSP-side priority label: its own entry, else the
    /// catch-all (`*`), else none.
    pub fn for_priority(&self, label: Option<&str>) -> Option<&PriorityTargets> {
        label
            .and_then(|l| self.priorities.iter().find(|p| p.label == l))
            .or_else(|| self.priorities.iter().find(|p| p.label == ANY_PRIORITY))
    }
}

/// Parses a duration like `30m`, `4h`, `1h30m`, `2d`, `90s` into seconds
/// (`1d` is 24 hours of counted time, not a business day).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{text:?} is not a duration: use whole numbers with d, h, m or s, e.g. \"30m\", \"4h\", \"1h30m\", \"2d\" (1d = 24 hours of counted time; a 9-hour business day is \"9h\")"
        )
    };
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || total == 0 {
        return Err(
            if total == 0 && number.is_empty() && !text.trim().is_empty() {
                format!("{text:?} is zero: a target must be at least 1s")
            } else {
                bad()
            },
        );
    }
    // Ten years is plenty; larger values are surely a typo.
    if total > 10 * 366 * 86_400 {
        return Err(format!("{text:?} is longer than ten years"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, secs) in [
            ("30m", 1800),
            ("4h", 14_400),
            ("1h30m", 5400),
            ("2d", 172_800),
            ("90s", 90),
        ] {
            assert_eq!(parse_duration(text), Ok(secs), "{text}");
        }
        for bad in ["", "4", "h", "4x", "-4h", "0m", "1.5h", "99999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("0m").unwrap_err().contains("zero"));
    }
}
