//! Checking a mapping: what needs no vendor ([`Mapping::validate`]: fields
//! mapped once, custom fields with both names, value maps where labels
//! differ, companion fields on status values only) and what the vendors'
//! catalogs must have ([`Mapping::validate_against`]: every status,
//! priority and trigger label).

use std::path::Path;

use psa_connector::Catalog;
use toml::Spanned;

use super::companion;
use super::error::line_of;
use super::mapping::Mapping;
use super::ConfigError;
use crate::store::Side;

/// Field names the engine knows without `a_field`/`b_field`.
const BUILT_IN: [&str; 3] = ["title", "status", "priority"];

impl Mapping {
    /// Checks that need no vendor.
    pub fn validate(&self, file: &Path, text: &str) -> Result<(), ConfigError> {
        let line = |offset: usize| Some(line_of(text, offset));
        let mut seen = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            let field = format!("fields[{i}].name");
            let name = f.name();
            if seen.contains(&name) {
                return Err(ConfigError::new(
                    file,
                    line(f.name.span().start),
                    field,
                    format!("field {name:?} is mapped twice"),
                ));
            }
            seen.push(name);
            for (key, limit) in [
                ("max_length_a", f.max_length_a),
                ("max_length_b", f.max_length_b),
            ] {
                if limit == Some(0) {
                    return Err(ConfigError::new(
                        file,
                        line(f.name.span().start),
                        format!("fields[{i}].{key}"),
                        "0 is out of range: at least 1 (0 would blank the field)",
                    ));
                }
            }
            let custom = !BUILT_IN.contains(&name);
            if custom && (f.a_field.is_none() || f.b_field.is_none()) {
                return Err(ConfigError::new(
                    file,
                    line(f.name.span().start),
                    field,
                    format!(
                        "{name:?} is not one of {}; a custom field needs a_field and b_field",
                        BUILT_IN.join(", ")
                    ),
                ));
            }
            for (j, pair) in f.values.iter().enumerate() {
                for side in [Side::A, Side::B] {
                    let companions = pair.companions(side);
                    if companions.is_empty() {
                        continue;
                    }
                    let key = format!("fields[{i}].values[{j}].{side}_with");
                    let at = line(pair.label_span(side));
                    if name != "status" {
                        return Err(ConfigError::new(
                            file,
                            at,
                            key,
                            "companion fields go with status values only",
                        ));
                    }
                    if let Some(problem) = companion::problem(companions) {
                        return Err(ConfigError::new(file, at, key, problem));
                    }
                }
            }
            if (name == "status" || name == "priority") && f.values.is_empty() {
                return Err(ConfigError::new(
                    file,
                    line(f.name.span().start),
                    format!("fields[{i}].values"),
                    format!("{name} labels differ per system: give a value map"),
                ));
            }
        }
        let trigger = &self.trigger;
        for (key, value) in [("queue", &trigger.queue), ("status", &trigger.status)] {
            if let Some(value) = value.as_ref().filter(|v| v.get_ref().trim().is_empty()) {
                return Err(ConfigError::new(
                    file,
                    line(value.span().start),
                    format!("trigger.{key}"),
                    "must not be empty",
                ));
            }
        }
        if trigger.queue.is_none() && trigger.status.is_none() {
            return Err(ConfigError::new(
                file,
                None,
                "trigger",
                "give a queue, a status, or both: which tickets escalate",
            ));
        }
        if let Some(targets) = &self.targets {
            targets.resolve(self, file, text)?;
        }
        if let Some(owners) = &self.owners {
            owners.validate(file, text)?;
        }
        if let Some(categories) = &self.categories {
            categories.validate(file, text)?;
        }
        Ok(())
    }

    /// Checks labels against what the vendors really have. `side_catalog` gives each side's catalog.
    pub fn validate_against(
        &self,
        file: &Path,
        text: &str,
        a: &Catalog,
        b: &Catalog,
    ) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let catalog = |side: Side| if side == Side::A { a } else { b };
        let mut check = |value: &Spanned<String>, field: String, side: Side, kind: &str| {
            let cat = catalog(side);
            let (ok, valid) = match kind {
                "status" => (
                    cat.has_status(value.get_ref()),
                    cat.status_labels().join(", "),
                ),
                "priority" => (
                    cat.priorities.contains(value.get_ref()),
                    cat.priorities.join(", "),
                ),
                _ => (cat.queues.contains(value.get_ref()), cat.queues.join(", ")),
            };
            if !ok {
                errors.push(ConfigError::new(
                    file,
                    Some(line_of(text, value.span().start)),
                    field,
                    format!(
                        "side {side} has no {kind} {:?}; it has: {valid}",
                        value.get_ref()
                    ),
                ));
            }
        };
        for (i, f) in self.fields.iter().enumerate() {
            let kind = f.name();
            if kind != "status" && kind != "priority" {
                continue;
            }
            for (j, pair) in f.values.iter().enumerate() {
                check(&pair.a, format!("fields[{i}].values[{j}].a"), Side::A, kind);
                check(&pair.b, format!("fields[{i}].values[{j}].b"), Side::B, kind);
            }
        }
        if let Some(queue) = &self.trigger.queue {
            check(queue, "trigger.queue".into(), self.trigger.side, "queue");
        }
        if let Some(status) = &self.trigger.status {
            check(status, "trigger.status".into(), self.trigger.side, "status");
        }
        for side in [Side::A, Side::B] {
            if let Some(status) = self
                .on_close
                .when_closed(side)
                .and_then(|c| c.set_status.as_ref())
            {
                check(
                    status,
                    format!("on_close.{side}.set_status"),
                    side.other(),
                    "status",
                );
            }
        }
        errors
    }
}
