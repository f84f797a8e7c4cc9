//! A pairing's **scope**: which tickets of each side belong to it. An MSP
//! shares one connection among many client pairings; each client is a
//! company (board, queue, assignment group, project) on the MSP side, and a
//! pairing must never read a ticket of another client into its own, nor
//! write into one.
//!
//! Each side's scope is a set of `key = "value"` conditions on the ticket
//! (all must hold). The keys are the vendor's ([`keys`]): ConnectWise
//! `company` (identifier) and `board`; Autotask `company_id` and `queue`;
//! ServiceNow `company` and `assignment_group` (display names); Jira
//! `project` (key). The side tickets get created on (the side opposite the
//! trigger) defaults to the company named by `[create] placement`
//! (ConnectWise/ServiceNow `company`, Autotask `company_id`); `[scope] a = {...}`
//! / `b = {...}` replace a side's conditions (`{}` is the whole tenant); a
//! side with no conditions is the whole tenant (usually the internal side).
//! The engine applies it (`engine::scope`).

use std::collections::BTreeMap;
use std::path::Path;

use psa_connector::Ticket;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::line_of;
use super::mapping::Mapping;
use super::{ConfigError, Vendor};
use crate::store::Side;

/// `[scope]` in a mapping file: explicit conditions per side.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRule {
    /// Side a's conditions (replaces any default; `{}` = whole tenant).
    #[serde(default)]
    pub a: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// Side b's conditions.
    #[serde(default)]
    pub b: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// The conditions in force, filled in by [`resolve`] when the
    /// configuration is loaded (the vendors are known only then).
    #[serde(skip)]
    pub resolved: PairingScope,
}

/// Where a scope key's value is read from a [`Ticket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `Ticket::fields[name]`.
    Field(&'static str),
    /// `Ticket::queue` (board, queue, assignment group, project key).
    Queue,
}

/// One scope key a vendor offers: its name in the mapping, where the value
/// is read, and the `[create] placement` key that sets it on creation (if
/// that placement is a default for the scope).
struct Key {
    name: &'static str,
    source: Source,
    placement: Option<&'static str>,
}

const CONNECTWISE: &[Key] = &[
    Key {
        name: "company",
        source: Source::Field("company"),
        placement: Some("company"),
    },
    Key {
        name: "board",
        source: Source::Queue,
        placement: None,
    },
];
const AUTOTASK: &[Key] = &[
    Key {
        name: "company_id",
        source: Source::Field("companyID"),
        placement: Some("company_id"),
    },
    Key {
        name: "queue",
        source: Source::Queue,
        placement: None,
    },
];
const SERVICENOW: &[Key] = &[
    Key {
        name: "company",
        source: Source::Field("company"),
        placement: Some("company"),
    },
    Key {
        name: "assignment_group",
        source: Source::Queue,
        placement: None,
    },
];
const JIRA: &[Key] = &[Key {
    name: "project",
    source: Source::Queue,
    placement: None,
}];

fn vendor_keys(vendor: Vendor) -> &'static [Key] {
    match vendor {
        Vendor::Connectwise => CONNECTWISE,
        Vendor::Autotask => AUTOTASK,
        Vendor::Servicenow => SERVICENOW,
        Vendor::Jira => JIRA,
    }
}

/// The scope keys `vendor` accepts, as a list for error messages.
pub fn keys(vendor: Vendor) -> String {
    vendor_keys(vendor)
        .iter()
        .map(|k| k.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Longest scope value accepted (company names and identifiers are short).
pub const MAX_VALUE_CHARS: usize = 256;

/// One condition: the ticket's value read from `source` must equal `value`
/// (ignoring case and surrounding blanks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub key: &'static str,
    pub source: Source,
    pub value: String,
}

/// One side's conditions; none = the whole tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SideScope(pub Vec<Condition>);

/// A ticket outside its side's scope: the first condition it fails and the
/// value it has there (`None`: the ticket has no such value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub key: String,
    pub expected: String,
    pub found: Option<String>,
}

impl SideScope {
    /// The first condition `ticket` fails, or `None` when it is in scope.
    pub fn check(&self, ticket: &Ticket) -> Option<Mismatch> {
        self.0.iter().find_map(|c| {
            let found = match c.source {
                Source::Field(name) => ticket.fields.get(name).cloned(),
                Source::Queue => ticket.queue.clone(),
            };
            // Vendors match these names case-insensitively (a placement
            // `company = "acme"` creates in ACME), so the scope does too.
            let same = found
                .as_deref()
                .is_some_and(|f| f.trim().to_lowercase() == c.value.trim().to_lowercase());
            (!same).then(|| Mismatch {
                key: c.key.to_string(),
                expected: c.value.clone(),
                found,
            })
        })
    }

    /// The conditions in words (`company = "ACME"`), or `whole tenant`.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "whole tenant".into();
        }
        self.0
            .iter()
            .map(|c| format!("{} = {:?}", c.key, c.value))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Both sides' scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairingScope {
    pub a: SideScope,
    pub b: SideScope,
}

impl PairingScope {
    pub fn side(&self, side: Side) -> &SideScope {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// Whether `ticket` on `side` belongs to the pairing.
    pub fn admits(&self, side: Side, ticket: &Ticket) -> bool {
        self.side(side).check(ticket).is_none()
    }
}

/// Checks a scope value: not blank, not overlong, no control characters.
fn check_value(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(format!("longer than {MAX_VALUE_CHARS} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    Ok(())
}

/// Resolves and checks `mapping`'s scope for a pairing whose side a is on
/// `a` and side b on `b`, storing it in `mapping.scope.resolved`.
pub fn resolve(
    mapping: &mut Mapping,
    a: Vendor,
    b: Vendor,
    file: &Path,
    text: &str,
) -> Result<(), ConfigError> {
    super::reverse::validate(mapping, file, text)?;
    let created_on = mapping.trigger.side.other();
    let mut resolved = PairingScope::default();
    for (side, vendor) in [(Side::A, a), (Side::B, b)] {
        let explicit = match side {
            Side::A => mapping.scope.a.as_ref(),
            Side::B => mapping.scope.b.as_ref(),
        };
        let keys = vendor_keys(vendor);
        let mut conditions = Vec::new();
        match explicit {
            Some(table) => {
                for (key, value) in table {
                    let field = format!("scope.{side}.{}", key.get_ref());
                    let line = Some(line_of(text, key.span().start));
                    let Some(known) = keys.iter().find(|k| k.name == key.get_ref()) else {
                        return Err(ConfigError::new(
                            file,
                            line,
                            field,
                            format!(
                                "unknown scope key {:?} for {} (side {side}); valid keys: {}",
                                key.get_ref(),
                                vendor.as_str(),
                                self::keys(vendor)
                            ),
                        ));
                    };
                    check_value(value.get_ref()).map_err(|m| {
                        ConfigError::new(file, Some(line_of(text, value.span().start)), field, m)
                    })?;
                    conditions.push(Condition {
                        key: known.name,
                        source: known.source,
                        value: value.get_ref().clone(),
                    });
                }
            }
            None if side == created_on => {
                for key in keys {
                    let Some(placement) = key.placement else {
                        continue;
                    };
                    let Some(value) = mapping.create.placement.get(placement) else {
                        continue;
                    };
                    check_value(value).map_err(|m| {
                        ConfigError::new(
                            file,
                            None,
                            format!("create.placement.{placement}"),
                            format!("{m} (it is also side {side}'s scope)"),
                        )
                    })?;
                    conditions.push(Condition {
                        key: key.name,
                        source: key.source,
                        value: value.clone(),
                    });
                }
            }
            None => {}
        }
        match side {
            Side::A => resolved.a = SideScope(conditions),
            Side::B => resolved.b = SideScope(conditions),
        }
    }
    mapping.scope.resolved = resolved;
    Ok(())
}
