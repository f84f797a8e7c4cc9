//! `check` for `[owners]` and `[categories]`: every group and category
//! label the mapping names must be one the side's vendor has (discovered
//! through [`psa_connector::Connector::discover_picklists`], like statuses
//! through `discover`); errors list the valid labels.

use std::collections::BTreeMap;
use std::path::Path;

use psa_connector::keys;

use super::error::line_of;
use super::mapping::Mapping;
use super::ConfigError;
use crate::store::Side;

/// Labels per catalog key, as `discover_picklists` answers.
pub type Picklists = BTreeMap<String, Vec<String>>;

impl Mapping {
    /// Whether `check` needs the vendors' owner and category labels.
    pub fn names_owner_labels(&self) -> bool {
        self.categories.is_some() || self.owners.as_ref().is_some_and(|o| !o.groups.is_empty())
    }

    /// Group and category labels against what each side's vendor has.
    pub fn validate_owner_labels(
        &self,
        file: &Path,
        text: &str,
        a: &Picklists,
        b: &Picklists,
    ) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (side, lists) in [(Side::A, a), (Side::B, b)] {
            let mut wanted = Vec::new();
            if let Some(owners) = &self.owners {
                for (label, at) in owners.group_labels(side) {
                    wanted.push((keys::GROUPS, label, at));
                }
            }
            if let Some(categories) = &self.categories {
                wanted.extend(categories.labels(side));
            }
            for (key, label, at) in wanted {
                let valid = lists.get(key).map(Vec::as_slice).unwrap_or(&[]);
                if valid.contains(label.get_ref()) {
                    continue;
                }
                let what = match key {
                    keys::GROUPS => "group",
                    keys::CATEGORIES => "category",
                    keys::SUBCATEGORIES => "subcategory",
                    _ => "item",
                };
                let message = if valid.is_empty() {
                    format!(
                        "side {side} has no {what} labels at all, so {:?} cannot be used",
                        label.get_ref()
                    )
                } else {
                    format!(
                        "side {side} has no {what} {:?}; it has: {}",
                        label.get_ref(),
                        valid.join(", ")
                    )
                };
                errors.push(ConfigError::new(
                    file,
                    Some(line_of(text, label.span().start)),
                    at,
                    message,
                ));
            }
        }
        errors
    }

    /// Category labels a side's vendor has that no `[categories]` pair
    /// names on that side, for each side whose categories flow across: a
    /// ticket carrying one is audited `unmapped_category` at run time, so
    /// `check` lists them as a warning beforehand.
    pub fn unmapped_categories(&self, a: &Picklists, b: &Picklists) -> Vec<(Side, Vec<String>)> {
        let Some(categories) = &self.categories else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for (side, lists) in [(Side::A, a), (Side::B, b)] {
            if !categories.direction.allows(side) {
                continue;
            }
            let named: Vec<&str> = categories
                .values
                .iter()
                .map(|pair| match side {
                    Side::A => pair.a.category.get_ref().as_str(),
                    Side::B => pair.b.category.get_ref().as_str(),
                })
                .collect();
            let unmapped: Vec<String> = lists
                .get(keys::CATEGORIES)
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .filter(|label| !named.contains(&label.as_str()))
                .cloned()
                .collect();
            if !unmapped.is_empty() {
                found.push((side, unmapped));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_labels_are_named_with_the_valid_ones() {
        let text = r#"
[trigger]
side = "a"
queue = "Escalate to MSP"

[owners]
sync = "group"
groups = [{ a = "Escalate to MSP", b = "Co-Managed" }]

[categories]
values = [{ a = { category = "Hardware", subcategory = "Printr" }, b = { category = "Incident" } }]
"#;
        let m: Mapping = toml::from_str(text).unwrap();
        m.validate(Path::new("m.toml"), text).unwrap();
        assert!(m.names_owner_labels());
        let a: Picklists = [
            (
                "assignee.group".to_string(),
                vec!["Escalate to MSP".to_string()],
            ),
            ("category".to_string(), vec!["Hardware".to_string()]),
            (
                "subcategory".to_string(),
                vec!["Printer".to_string(), "Laptop".to_string()],
            ),
        ]
        .into();
        let b: Picklists = [("category".to_string(), vec!["Incident".to_string()])].into();
        let errors = m.validate_owner_labels(Path::new("m.toml"), text, &a, &b);
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{text:?}");
        assert!(
            text[0].contains("owners.groups[0].b") || text[1].contains("owners.groups[0].b"),
            "{text:?}"
        );
        let sub = text
            .iter()
            .find(|t| t.contains("Printr"))
            .expect("subcategory error");
        assert!(sub.contains("it has: Printer, Laptop"), "{sub}");
        assert!(sub.contains("categories.values[0].a.subcategory"), "{sub}");
    }

    #[test]
    fn owners_config_errors_are_clear() {
        let bad = |extra: &str| {
            let text = format!("[trigger]\nside = \"a\"\nqueue = \"Q\"\n\n[owners]\n{extra}\n");
            let m: Result<Mapping, _> = toml::from_str(&text);
            match m {
                Err(e) => e.to_string(),
                Ok(m) => m
                    .validate(Path::new("m.toml"), &text)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            }
        };
        assert!(
            bad("sync = \"everything\"").contains("record"),
            "{}",
            bad("sync = \"everything\"")
        );
        assert!(bad("sync = \"group\"").contains("owners.groups"));
        assert!(bad("msp_owner_within_minutes = 0").contains("at least 1"));
        assert!(bad("fallback_b = { person = \"nobody\" }").contains("not an e-mail"));
        assert!(
            bad("fallback_b = { person = \"a@b.example\", group = \"G\" }").contains("not both")
        );
        assert_eq!(
            bad("sync = \"person\"\nfallback_b = { person = \"a@b.example\" }"),
            ""
        );
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The commented example in the shipped mapping is valid when uncommented.
    #[test]
    fn the_shipped_commented_example_is_valid() {
        let text = include_str!("../../mappings/autotask-to-connectwise.toml");
        let (head, rest) = text.split_once("#-- owners example begin\n").unwrap();
        let (example, _) = rest.split_once("#-- owners example end").unwrap();
        let example: String = example
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
            .collect::<Vec<_>>()
            .join("\n");
        let full = format!("{head}\n{example}\n");
        let m: Mapping = toml::from_str(&full).unwrap();
        m.validate(Path::new("m.toml"), &full).unwrap();
        let owners = m.owners.as_ref().unwrap();
        assert_eq!(owners.msp_owner_within_minutes, Some(30));
        assert_eq!(m.categories.as_ref().unwrap().values.len(), 2);
        // Labels the demo simulators have: check would accept them.
        let a: Picklists = [
            (
                "assignee.group".to_string(),
                vec!["Level II Support".to_string()],
            ),
            (
                "category".to_string(),
                vec!["Hardware".to_string(), "Network".to_string()],
            ),
            (
                "subcategory".to_string(),
                vec!["Printer".to_string(), "VPN".to_string()],
            ),
        ]
        .into();
        let b: Picklists = [
            ("category".to_string(), vec!["Incident".to_string()]),
            (
                "subcategory".to_string(),
                vec!["Hardware".to_string(), "Network".to_string()],
            ),
            ("item".to_string(), vec!["Printer".to_string()]),
        ]
        .into();
        assert!(m
            .validate_owner_labels(Path::new("m.toml"), &full, &a, &b)
            .is_empty());
    }

    #[test]
    fn vendor_categories_no_pair_names_are_listed_per_flowing_side() {
        let text = r#"
[trigger]
side = "a"
queue = "Escalate to MSP"

[categories]
direction = "a_to_b"
values = [{ a = { category = "Hardware" }, b = { category = "Incident" } }]
"#;
        let m: Mapping = toml::from_str(text).unwrap();
        m.validate(Path::new("m.toml"), text).unwrap();
        let a: Picklists = [(
            "category".to_string(),
            vec![
                "Hardware".to_string(),
                "Network".to_string(),
                "Software".to_string(),
            ],
        )]
        .into();
        let b: Picklists = [(
            "category".to_string(),
            vec!["Incident".to_string(), "Request".to_string()],
        )]
        .into();
        // Only side a's categories flow (a_to_b): side b's "Request" is not listed.
        assert_eq!(
            m.unmapped_categories(&a, &b),
            vec![(Side::A, vec!["Network".to_string(), "Software".to_string()])]
        );
    }
}
