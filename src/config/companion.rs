//! Companion fields: values a system demands together with a status.
//!
//! ServiceNow refuses Resolved without `close_code` and `close_notes`, and On
//! Hold without `hold_reason` (data policies). A status pair in a mapping can
//! therefore name fields written to a side *with* that status:
//!
//! ```toml
//! values = [
//!   { a = "Resolved", b = ">Closed", a_with = { close_code = "Solved (Permanently)", close_notes = "{resolution}" } },
//! ]
//! ```
//!
//! A value is fixed text, or contains `{resolution}`: the text of the other
//! side's latest resolution note. A companion whose value comes out empty (no
//! resolution note yet) is left out, so the connector refuses the write with
//! an error naming the missing field instead of writing a blank.

use std::collections::BTreeMap;

/// Placeholders a companion value may use.
pub const PLACEHOLDERS: [&str; 1] = ["{resolution}"];

/// Fields written to one side together with a status value.
pub type Companions = BTreeMap<String, String>;

/// What a companion value can refer to when it is rendered.
#[derive(Clone, Debug, Default)]
pub struct CompanionContext<'a> {
    /// The other side's latest resolution note, if it has one.
    pub resolution: Option<&'a str>,
}

/// The fields to write: each value rendered; empty results left out.
pub fn render(companions: &Companions, context: &CompanionContext<'_>) -> BTreeMap<String, String> {
    companions
        .iter()
        .filter_map(|(field, template)| {
            let value = template.replace("{resolution}", context.resolution.unwrap_or(""));
            let value = value.trim();
            (!value.is_empty()).then(|| (field.clone(), value.to_string()))
        })
        .collect()
}

/// Why a companion table is unusable, if it is.
pub fn problem(companions: &Companions) -> Option<String> {
    for (field, template) in companions {
        if field.trim().is_empty() {
            return Some("a companion field needs a name".into());
        }
        let mut rest = template.as_str();
        while let Some(start) = rest.find('{') {
            let tail = &rest[start..];
            let Some(known) = PLACEHOLDERS.iter().find(|p| tail.starts_with(**p)) else {
                let end = tail.find('}').map(|e| e + 1).unwrap_or(tail.len());
                return Some(format!(
                    "{field}: unknown placeholder {:?}; the valid ones are: {}",
                    &tail[..end],
                    PLACEHOLDERS.join(", ")
                ));
            };
            rest = &tail[known.len()..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn companions(pairs: &[(&str, &str)]) -> Companions {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fixed_and_resolution_values_render() {
        let c = companions(&[
            ("close_code", "Solved"),
            ("close_notes", "Fixed: {resolution}"),
        ]);
        let rendered = render(
            &c,
            &CompanionContext {
                resolution: Some("replaced the PSU"),
            },
        );
        assert_eq!(rendered["close_code"], "Solved");
        assert_eq!(rendered["close_notes"], "Fixed: replaced the PSU");
    }

    #[test]
    fn a_missing_resolution_leaves_the_field_out() {
        let c = companions(&[("close_code", "Solved"), ("close_notes", "{resolution}")]);
        let rendered = render(&c, &CompanionContext::default());
        assert_eq!(rendered.len(), 1, "{rendered:?}");
        assert!(!rendered.contains_key("close_notes"));
    }

    #[test]
    fn unknown_placeholders_and_blank_names_are_named() {
        let bad = problem(&companions(&[("close_notes", "{resolutoin}")])).unwrap();
        assert!(
            bad.contains("{resolutoin}") && bad.contains("{resolution}"),
            "{bad}"
        );
        assert!(problem(&companions(&[(" ", "x")])).is_some());
        assert!(problem(&companions(&[("close_notes", "by {resolution} {")])).is_some());
        assert_eq!(
            problem(&companions(&[("close_notes", "{resolution}")])),
            None
        );
    }
}
