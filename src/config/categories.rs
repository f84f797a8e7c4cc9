//! A mapping's `[categories]` section: category / subcategory / item label
//! tuples that correspond on the two sides (Autotask issue type / sub-issue
//! type, ConnectWise type / subtype / item, ServiceNow category /
//! subcategory, Jira issue type / first component), synced one way or both.
//! A pair matches a ticket when every label the pair gives equals the
//! ticket's; the first matching pair wins, so list specific pairs first. A
//! value no pair matches is reported (audit `unmapped_category`, once per
//! link and value, and a warning), never silently dropped.

use std::path::Path;

use psa_connector::Category;
use serde::Deserialize;
use toml::Spanned;

use super::error::line_of;
use super::mapping::Direction;
use super::ConfigError;
use crate::store::Side;

/// One side's labels of a pair.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub category: Spanned<String>,
    pub subcategory: Option<Spanned<String>>,
    pub item: Option<Spanned<String>>,
}

impl Labels {
    fn matches(&self, c: &Category) -> bool {
        let eq = |want: Option<&Spanned<String>>, have: &Option<String>| {
            want.is_none_or(|w| have.as_deref() == Some(w.get_ref().as_str()))
        };
        c.category.as_deref() == Some(self.category.get_ref().as_str())
            && eq(self.subcategory.as_ref(), &c.subcategory)
            && eq(self.item.as_ref(), &c.item)
    }

    /// The labels as a category (labels not given stay `None`).
    pub fn to_category(&self) -> Category {
        Category {
            category: Some(self.category.get_ref().clone()),
            subcategory: self.subcategory.as_ref().map(|s| s.get_ref().clone()),
            item: self.item.as_ref().map(|s| s.get_ref().clone()),
        }
    }
}

/// A pair of corresponding label tuples.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryPair {
    pub a: Labels,
    pub b: Labels,
}

/// The `[categories]` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Categories {
    #[serde(default = "both")]
    pub direction: Direction,
    /// Whose category wins when both sides changed it (default: side a).
    #[serde(default = "side_a")]
    pub owner: Side,
    pub values: Vec<CategoryPair>,
}

fn both() -> Direction {
    Direction::Both
}
fn side_a() -> Side {
    Side::A
}

/// A category as one comparable value (`category / subcategory / item`).
pub fn key(c: &Category) -> String {
    [&c.category, &c.subcategory, &c.item]
        .iter()
        .map(|v| v.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" / ")
}

impl Categories {
    /// The other side's labels for `c` seen on `from`: the first pair that matches.
    pub fn translate(&self, from: Side, c: &Category) -> Option<Category> {
        self.values.iter().find_map(|p| {
            let (here, there) = match from {
                Side::A => (&p.a, &p.b),
                Side::B => (&p.b, &p.a),
            };
            here.matches(c).then(|| there.to_category())
        })
    }

    /// Whether `c` already holds every label of `wanted`.
    pub fn holds(c: &Category, wanted: &Category) -> bool {
        [
            (&wanted.category, &c.category),
            (&wanted.subcategory, &c.subcategory),
            (&wanted.item, &c.item),
        ]
        .iter()
        .all(|(w, h)| w.is_none() || w == h)
    }

    pub fn validate(&self, file: &Path, text: &str) -> Result<(), ConfigError> {
        if self.values.is_empty() {
            return Err(ConfigError::new(
                file,
                None,
                "categories.values",
                "give at least one pair: values = [{ a = { category = \"…\" }, b = { category = \"…\" } }]",
            ));
        }
        for (i, p) in self.values.iter().enumerate() {
            for (side, l) in [(Side::A, &p.a), (Side::B, &p.b)] {
                for (name, v) in [
                    ("category", Some(&l.category)),
                    ("subcategory", l.subcategory.as_ref()),
                    ("item", l.item.as_ref()),
                ] {
                    if let Some(v) = v.filter(|v| v.get_ref().trim().is_empty()) {
                        return Err(ConfigError::new(
                            file,
                            Some(line_of(text, v.span().start)),
                            format!("categories.values[{i}].{side}.{name}"),
                            "must not be empty",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Labels the mapping names on `side`, as (catalog key, label, config key).
    pub fn labels(&self, side: Side) -> Vec<(&'static str, &Spanned<String>, String)> {
        let mut out = Vec::new();
        for (i, p) in self.values.iter().enumerate() {
            let l = if side == Side::A { &p.a } else { &p.b };
            let at = |name: &str| format!("categories.values[{i}].{side}.{name}");
            out.push((psa_connector::keys::CATEGORIES, &l.category, at("category")));
            if let Some(s) = &l.subcategory {
                out.push((psa_connector::keys::SUBCATEGORIES, s, at("subcategory")));
            }
            if let Some(s) = &l.item {
                out.push((psa_connector::keys::ITEMS, s, at("item")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats(text: &str) -> Categories {
        toml::from_str(text).unwrap()
    }

    fn c(cat: &str, sub: Option<&str>, item: Option<&str>) -> Category {
        Category {
            category: Some(cat.into()),
            subcategory: sub.map(Into::into),
            item: item.map(Into::into),
        }
    }

    #[test]
    fn the_first_matching_pair_wins_and_unmapped_is_none() {
        let m = cats(
            r#"values = [
              { a = { category = "Hardware", subcategory = "Printer" }, b = { category = "Incident", subcategory = "Hardware", item = "Printer" } },
              { a = { category = "Hardware" }, b = { category = "Incident", subcategory = "Hardware" } },
            ]"#,
        );
        assert_eq!(
            m.translate(Side::A, &c("Hardware", Some("Printer"), None)),
            Some(c("Incident", Some("Hardware"), Some("Printer")))
        );
        assert_eq!(
            m.translate(Side::A, &c("Hardware", Some("Laptop"), None)),
            Some(c("Incident", Some("Hardware"), None))
        );
        assert_eq!(
            m.translate(Side::B, &c("Incident", Some("Hardware"), Some("Printer"))),
            Some(c("Hardware", Some("Printer"), None))
        );
        assert_eq!(m.translate(Side::A, &c("Network", None, None)), None);
        assert!(Categories::holds(
            &c("Incident", Some("Hardware"), Some("Laptop")),
            &c("Incident", Some("Hardware"), None)
        ));
        assert_eq!(key(&c("Incident", None, Some("x"))), "Incident /  / x");
    }
}
