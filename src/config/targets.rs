//! A mapping's `[targets]` section: response targets per MSP-side priority
//! label, business calendars, pause statuses and the near-breach threshold
//! (documented in `mappings/autotask-to-connectwise.toml` and
//! `docs/architecture.md`, "Response targets"). [`TargetsConfig::resolve`]
//! checks it against the mapping and builds the runtime
//! [`Targets`](crate::accountability::targets::Targets).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::error::line_of;
use super::mapping::Mapping;
use super::ConfigError;
use crate::accountability::calendar::{Calendar, DayRange, WEEKDAYS};
use crate::accountability::targets::{parse_duration, PriorityTargets, Targets, ANY_PRIORITY};

/// The built-in calendar: every second counts (UTC, no holidays).
pub const ALWAYS: &str = "24/7";

/// `[targets]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    #[serde(default = "default_near_breach")]
    pub near_breach: Spanned<f64>,
    /// MSP-side status labels whose time does not count ("Waiting Customer").
    #[serde(default)]
    pub pause_statuses: Vec<Spanned<String>>,
    /// Post an internal note on both tickets at a near-breach and a breach.
    #[serde(default)]
    pub note: bool,
    /// Named calendars; `24/7` is built in.
    #[serde(default)]
    pub calendars: BTreeMap<String, CalendarConfig>,
    /// One entry per MSP-side priority label (`*`: any other).
    #[serde(default)]
    pub priority: Vec<PriorityConfig>,
}

fn default_near_breach() -> Spanned<f64> {
    Spanned::new(0..0, 0.8)
}

/// `[targets.calendars.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// IANA name, e.g. `Europe/Berlin`.
    pub time_zone: Spanned<String>,
    /// `"24/7"`: every day all day (holidays still excluded); otherwise the weekday keys.
    #[serde(default)]
    pub hours: Option<Spanned<String>>,
    #[serde(default)]
    pub mon: Vec<Spanned<String>>,
    #[serde(default)]
    pub tue: Vec<Spanned<String>>,
    #[serde(default)]
    pub wed: Vec<Spanned<String>>,
    #[serde(default)]
    pub thu: Vec<Spanned<String>>,
    #[serde(default)]
    pub fri: Vec<Spanned<String>>,
    #[serde(default)]
    pub sat: Vec<Spanned<String>>,
    #[serde(default)]
    pub sun: Vec<Spanned<String>>,
    /// Local dates `YYYY-MM-DD` that count nothing.
    #[serde(default)]
    pub holidays: Vec<Spanned<String>>,
}

/// `[[targets.priority]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityConfig {
    pub label: Spanned<String>,
    pub first_response: Option<Spanned<String>>,
    pub resolution: Option<Spanned<String>>,
    #[serde(default = "default_calendar")]
    pub calendar: Spanned<String>,
}

fn default_calendar() -> Spanned<String> {
    Spanned::new(0..0, ALWAYS.to_string())
}

impl TargetsConfig {
    /// Checks the section against `mapping` and builds the runtime targets.
    pub fn resolve(
        &self,
        mapping: &Mapping,
        file: &Path,
        text: &str,
    ) -> Result<Targets, ConfigError> {
        let err = |offset: usize, field: String, message: String| {
            let line = (offset > 0).then(|| line_of(text, offset));
            ConfigError::new(file, line, field, message)
        };
        let msp_side = mapping.trigger.side.other();
        let near = *self.near_breach.get_ref();
        if !(near > 0.0 && near < 1.0) {
            return Err(err(
                self.near_breach.span().start,
                "targets.near_breach".into(),
                format!("{near} is out of range: a fraction between 0 and 1, e.g. 0.8"),
            ));
        }
        let labels = |name: &str| -> Option<Vec<String>> {
            let rule = mapping.field(name)?;
            Some(
                rule.values
                    .iter()
                    .map(|p| match msp_side {
                        crate::store::Side::A => p.a.get_ref().clone(),
                        crate::store::Side::B => p.b.get_ref().clone(),
                    })
                    .collect(),
            )
        };
        let mut pause_statuses = BTreeSet::new();
        for (i, status) in self.pause_statuses.iter().enumerate() {
            let valid = labels("status").ok_or_else(|| {
                err(status.span().start, format!("targets.pause_statuses[{i}]"),
                    "pause statuses are MSP-side status labels: the mapping needs a [[fields]] status with values".into())
            })?;
            if !valid.contains(status.get_ref()) {
                return Err(err(
                    status.span().start,
                    format!("targets.pause_statuses[{i}]"),
                    format!(
                        "{:?} is not a side {msp_side} (MSP) status of the mapping; it has: {}",
                        status.get_ref(),
                        dedup(&valid).join(", ")
                    ),
                ));
            }
            pause_statuses.insert(status.get_ref().clone());
        }
        let mut calendars: BTreeMap<&str, Arc<Calendar>> = BTreeMap::new();
        calendars.insert(ALWAYS, Arc::new(Calendar::always()));
        for (name, config) in &self.calendars {
            let field = format!("targets.calendars.{name}");
            if name == ALWAYS {
                return Err(err(
                    0,
                    field,
                    "\"24/7\" is built in; give your calendar another name".into(),
                ));
            }
            calendars.insert(name, Arc::new(config.build(&field, &err)?));
        }
        if self.priority.is_empty() {
            return Err(err(0, "targets.priority".into(), "no targets: add [[targets.priority]] entries (label, first_response and/or resolution)".into()));
        }
        let mut priorities = Vec::new();
        for (i, p) in self.priority.iter().enumerate() {
            let field = format!("targets.priority[{i}]");
            let label = p.label.get_ref();
            if label != ANY_PRIORITY {
                let valid = labels("priority").ok_or_else(|| {
                    err(p.label.span().start, format!("{field}.label"),
                        "priority labels name MSP-side priorities: the mapping needs a [[fields]] priority with values (or use label = \"*\" for every ticket)".into())
                })?;
                if !valid.contains(label) {
                    return Err(err(
                        p.label.span().start,
                        format!("{field}.label"),
                        format!(
                            "{label:?} is not a side {msp_side} (MSP) priority of the mapping; it has: {} (or \"*\" for any other)",
                            dedup(&valid).join(", ")
                        ),
                    ));
                }
            }
            if priorities
                .iter()
                .any(|q: &PriorityTargets| &q.label == label)
            {
                return Err(err(
                    p.label.span().start,
                    format!("{field}.label"),
                    format!("{label:?} has targets twice"),
                ));
            }
            let duration =
                |value: &Option<Spanned<String>>, key: &str| -> Result<Option<i64>, ConfigError> {
                    value
                        .as_ref()
                        .map(|v| {
                            parse_duration(v.get_ref())
                                .map_err(|m| err(v.span().start, format!("{field}.{key}"), m))
                        })
                        .transpose()
                };
            let first_response = duration(&p.first_response, "first_response")?;
            let resolution = duration(&p.resolution, "resolution")?;
            if first_response.is_none() && resolution.is_none() {
                return Err(err(
                    p.label.span().start,
                    field,
                    "give first_response, resolution or both".into(),
                ));
            }
            let calendar_name = p.calendar.get_ref();
            let calendar = calendars
                .get(calendar_name.as_str())
                .cloned()
                .ok_or_else(|| {
                    let known: Vec<&str> = calendars.keys().copied().collect();
                    err(
                        p.calendar.span().start,
                        format!("{field}.calendar"),
                        format!("no calendar {calendar_name:?}; known: {}", known.join(", ")),
                    )
                })?;
            priorities.push(PriorityTargets {
                label: label.clone(),
                first_response,
                resolution,
                calendar_name: calendar_name.clone(),
                calendar,
            });
        }
        Ok(Targets {
            msp_side,
            near_breach: near,
            pause_statuses,
            note: self.note,
            priorities,
        })
    }
}

impl CalendarConfig {
    fn build(
        &self,
        field: &str,
        err: &impl Fn(usize, String, String) -> ConfigError,
    ) -> Result<Calendar, ConfigError> {
        let tz: Tz = self.time_zone.get_ref().parse().map_err(|_| {
            err(
                self.time_zone.span().start,
                format!("{field}.time_zone"),
                format!(
                    "{:?} is not an IANA time zone name; e.g. {}",
                    self.time_zone.get_ref(),
                    zone_suggestions(self.time_zone.get_ref()).join(", ")
                ),
            )
        })?;
        let mut holidays = BTreeSet::new();
        for (i, day) in self.holidays.iter().enumerate() {
            let date = NaiveDate::parse_from_str(day.get_ref(), "%Y-%m-%d").map_err(|_| {
                err(
                    day.span().start,
                    format!("{field}.holidays[{i}]"),
                    format!("{:?} is not a date like \"2026-12-25\"", day.get_ref()),
                )
            })?;
            holidays.insert(date);
        }
        let days = [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ];
        if let Some(hours) = &self.hours {
            if hours.get_ref() != ALWAYS {
                return Err(err(
                    hours.span().start,
                    format!("{field}.hours"),
                    format!(
                        "{:?}: only \"24/7\" is known here; give weekly hours with the keys {}",
                        hours.get_ref(),
                        WEEKDAYS.join(", ")
                    ),
                ));
            }
            if days.iter().any(|d| !d.is_empty()) {
                return Err(err(
                    hours.span().start,
                    format!("{field}.hours"),
                    "give hours = \"24/7\" or weekday ranges, not both".into(),
                ));
            }
            return Ok(Calendar::all_week(tz, holidays));
        }
        let mut week: [Vec<DayRange>; 7] = Default::default();
        for (i, ranges) in days.iter().enumerate() {
            for (j, range) in ranges.iter().enumerate() {
                let parsed = DayRange::parse(range.get_ref()).map_err(|m| {
                    err(
                        range.span().start,
                        format!("{field}.{}[{j}]", WEEKDAYS[i]),
                        m,
                    )
                })?;
                week[i].push(parsed);
            }
        }
        let line = self.time_zone.span().start;
        Calendar::new(tz, week, holidays).map_err(|m| {
            let m = if m.contains("no business hours") {
                format!(
                    "{m}: give ranges under {} (e.g. mon = [\"08:00-17:00\"]) or hours = \"24/7\"",
                    WEEKDAYS.join(", ")
                )
            } else {
                m
            };
            err(line, field.to_string(), m)
        })
    }
}

/// A few valid zone names near `wrong`: those of the same region (the part
/// before `/`), else well-known ones.
fn zone_suggestions(wrong: &str) -> Vec<&'static str> {
    let region = wrong
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let same: Vec<&'static str> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| {
            !region.is_empty() && name.to_ascii_lowercase().starts_with(&format!("{region}/"))
        })
        .take(5)
        .collect();
    if same.is_empty() {
        vec!["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]
    } else {
        same
    }
}

fn dedup(labels: &[String]) -> Vec<String> {
    let mut seen = Vec::new();
    for l in labels {
        if !seen.contains(l) {
            seen.push(l.clone());
        }
    }
    seen
}

#[cfg(test)]
#[path = "targets_tests.rs"]
mod tests;
