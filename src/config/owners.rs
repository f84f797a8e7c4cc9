//! A mapping's `[owners]` section: who holds a linked ticket (person and
//! group) is recorded (custody audit entries), optionally synced, and
//! optionally watched: an escalation whose MSP-side ticket has no person
//! after `msp_owner_within_minutes` raises one `owner_missing` alert.
//!
//! People are matched across systems by e-mail through each vendor's
//! lookup ([`psa_connector::Connector::find_person`]); a person the target
//! system does not know gets the target side's fallback (`fallback_a` /
//! `fallback_b`): unassigned (the default), a named person (by e-mail) or
//! a group (by label). Groups are mapped by label like statuses.

use std::path::Path;

use psa_connector::people::email_key;
use serde::Deserialize;
use toml::Spanned;

use super::error::line_of;
use super::mapping::{Direction, ValuePair};
use super::ConfigError;
use crate::store::Side;

/// What crosses between the sides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerSync {
    /// Nothing is written: holders are only recorded in the audit log.
    #[default]
    Record,
    Person,
    Group,
    PersonAndGroup,
}

impl OwnerSync {
    pub fn person(self) -> bool {
        matches!(self, OwnerSync::Person | OwnerSync::PersonAndGroup)
    }
    pub fn group(self) -> bool {
        matches!(self, OwnerSync::Group | OwnerSync::PersonAndGroup)
    }
}

/// What a side gets when the other side's person has no match there.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// E-mail of the person to assign instead.
    pub person: Option<Spanned<String>>,
    /// Group label to assign instead (the person is left unassigned).
    pub group: Option<Spanned<String>>,
}

/// The `[owners]` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owners {
    #[serde(default)]
    pub sync: OwnerSync,
    #[serde(default = "both")]
    pub direction: Direction,
    /// Whose holder wins when both sides changed it since the last sync
    /// (default: the side that does not escalate, the MSP).
    pub owner: Option<Side>,
    /// Fallback when a person has no match on side a / side b.
    pub fallback_a: Option<Fallback>,
    pub fallback_b: Option<Fallback>,
    /// Group labels, side a ↔ side b (required when groups sync).
    #[serde(default)]
    pub groups: Vec<ValuePair>,
    /// Alert when the MSP side of an escalation has no person this many
    /// minutes after the link was made.
    pub msp_owner_within_minutes: Option<u64>,
    /// With the alert, an internal note on both tickets.
    #[serde(default)]
    pub note: bool,
}

fn both() -> Direction {
    Direction::Both
}

impl Owners {
    pub fn fallback(&self, side: Side) -> Option<&Fallback> {
        match side {
            Side::A => self.fallback_a.as_ref(),
            Side::B => self.fallback_b.as_ref(),
        }
    }

    /// The group label on the other side of `label` seen on `from`.
    pub fn translate_group(&self, from: Side, label: &str) -> Option<String> {
        self.groups.iter().find_map(|p| {
            let (here, there) = match from {
                Side::A => (&p.a, &p.b),
                Side::B => (&p.b, &p.a),
            };
            (here.get_ref() == label).then(|| there.get_ref().clone())
        })
    }

    /// Checks that need no vendor.
    pub fn validate(&self, file: &Path, text: &str) -> Result<(), ConfigError> {
        let line = |offset: usize| Some(line_of(text, offset));
        if self.sync.group() && self.groups.is_empty() {
            return Err(ConfigError::new(
                file,
                None,
                "owners.groups",
                "group labels differ per system: give groups = [{ a = \"…\", b = \"…\" }] when sync is \"group\" or \"person_and_group\"",
            ));
        }
        if self.msp_owner_within_minutes == Some(0) {
            return Err(ConfigError::new(
                file,
                None,
                "owners.msp_owner_within_minutes",
                "0 is out of range: at least 1 minute",
            ));
        }
        for side in [Side::A, Side::B] {
            let Some(f) = self.fallback(side) else {
                continue;
            };
            if f.person.is_some() && f.group.is_some() {
                let at = f.person.as_ref().map(|p| p.span().start).unwrap_or(0);
                return Err(ConfigError::new(
                    file,
                    line(at),
                    format!("owners.fallback_{side}"),
                    "give a person or a group, not both (neither: leave unassigned)",
                ));
            }
            if let Some(p) = &f.person {
                let email = email_key(p.get_ref());
                if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
                    return Err(ConfigError::new(
                        file,
                        line(p.span().start),
                        format!("owners.fallback_{side}.person"),
                        format!(
                            "{:?} is not an e-mail address (people are matched by e-mail)",
                            p.get_ref()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Group labels the mapping names on `side` (for `check`), with their keys.
    pub fn group_labels(&self, side: Side) -> Vec<(&Spanned<String>, String)> {
        let mut out: Vec<(&Spanned<String>, String)> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let label = if side == Side::A { &p.a } else { &p.b };
                (label, format!("owners.groups[{i}].{side}"))
            })
            .collect();
        if let Some(g) = self.fallback(side).and_then(|f| f.group.as_ref()) {
            out.push((g, format!("owners.fallback_{side}.group")));
        }
        out
    }
}
