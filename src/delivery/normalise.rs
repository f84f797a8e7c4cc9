//! Telling the vendor's normalisation of a value the bridge wrote from a
//! person's edit made right after the write. After an update the connector
//! reads the ticket back; the shadow takes a stored value only when it is
//! what the vendor makes of the written one, so the next plan neither sends
//! the normalisation back as an edit nor mistakes a real edit for ours:
//!
//! - whitespace trimmed or runs collapsed: any field;
//! - case changed: picklist labels only (`status`, `priority`, `queue`),
//!   which vendors store in their canonical spelling; never free text;
//! - cut short: only when the stored text is the written text cut at exactly
//!   the vendor's limit for that field ([`psa_connector::Connector::max_chars`]),
//!   or a non-empty prefix of it followed by an ellipsis (`…` or `...`).
//!
//! Anything else ("Server down" stored for "Server down in building 4") is
//! left for the next plan to see as a change.

use crate::store::SideState;

/// Fields whose values are picklist labels.
const PICKLISTS: [&str; 3] = ["status", "priority", "queue"];

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `stored` is what a vendor makes of `written` in `field`, whose
/// values the vendor cuts at `max_chars` characters (if it cuts).
pub fn is_normalisation(
    field: &str,
    written: &str,
    stored: &str,
    max_chars: Option<usize>,
) -> bool {
    let (w, s) = (collapse(written), collapse(stored));
    if w == s {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    if PICKLISTS.contains(&field) {
        return w.to_lowercase() == s.to_lowercase();
    }
    if let Some(max) = max_chars {
        // Cut at the limit, then trimmed (the engine trims what it reads),
        // with whitespace collapsed before or after the cut.
        let cut = |text: &str| collapse(&text.chars().take(max).collect::<String>());
        if written.chars().count() > max && (cut(written) == s || cut(&w) == s) {
            return true;
        }
    }
    for marker in ["…", "..."] {
        if let Some(prefix) = s.strip_suffix(marker) {
            let prefix = prefix.trim_end();
            if !prefix.is_empty() && w.starts_with(prefix) && w.len() > prefix.len() {
                return true;
            }
        }
    }
    false
}

/// Takes into `side` the values of `stored` for the written `fields` that
/// are normalisations of what `side` holds (`limits`: the target vendor's
/// length limit per field, where it cuts). Returns the fields taken.
pub(super) fn adopt_normalised(
    side: &mut SideState,
    stored: &SideState,
    fields: &[String],
    limits: &[(String, usize)],
) -> Vec<String> {
    let mut changed = Vec::new();
    for field in fields {
        let (Some(written), Some(kept)) = (side.values.get(field), stored.values.get(field)) else {
            continue;
        };
        let max = limits.iter().find(|(f, _)| f == field).map(|(_, n)| *n);
        if written != kept && is_normalisation(field, written, kept, max) {
            side.values.insert(field.clone(), kept.clone());
            changed.push(field.clone());
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_normalisations_are_recognised() {
        assert!(is_normalisation("title", "  VPN  down ", "VPN down", None));
        assert!(is_normalisation(
            "status",
            "in progress",
            "In Progress",
            None
        ));
        assert!(is_normalisation("priority", "HIGH", "High", None));
        let long = "x".repeat(150);
        assert!(is_normalisation("title", &long, &long[..100], Some(100)));
        // A cut that ends in a space is trimmed when read back.
        let spaced = format!("{} tail", "y".repeat(99));
        assert!(is_normalisation(
            "title",
            &spaced,
            &"y".repeat(99),
            Some(100)
        ));
        assert!(is_normalisation(
            "title",
            "Printer on fire again",
            "Printer on…",
            None
        ));
        assert!(is_normalisation(
            "title",
            "Printer on fire again",
            "Printer on fire...",
            None
        ));
    }

    #[test]
    fn edits_are_not_taken_for_normalisations() {
        // A concurrent edit that happens to be a prefix: no limit, no ellipsis.
        let written = "Server down in building 4";
        assert!(!is_normalisation("title", written, "Server down", None));
        assert!(!is_normalisation(
            "title",
            written,
            "Server down",
            Some(100)
        ));
        // A prefix that is not exactly the limit's cut.
        let long = "z".repeat(150);
        assert!(!is_normalisation("title", &long, &long[..90], Some(100)));
        // Case is a person's change in free text.
        assert!(!is_normalisation("title", "VPN down", "vpn DOWN", None));
        assert!(!is_normalisation(
            "description",
            "Call Bob",
            "call bob",
            None
        ));
        // Different words, empty values, a bare ellipsis.
        assert!(!is_normalisation(
            "title",
            "Printer on fire",
            "Scanner on fire",
            None
        ));
        assert!(!is_normalisation("title", "Printer on fire", "", None));
        assert!(!is_normalisation("title", "Printer on fire", "…", None));
        assert!(!is_normalisation("status", "In Progress", "Waiting", None));
    }

    #[test]
    fn only_normalised_values_of_written_fields_are_adopted() {
        let mut side = SideState::default();
        let long = "y".repeat(120);
        side.values.insert("title".into(), long.clone());
        side.values.insert("priority".into(), "High".into());
        side.values.insert("company".into(), "Acme Ltd".into());
        let mut stored = SideState::default();
        stored
            .values
            .insert("title".into(), long[..100].to_string());
        stored.values.insert("priority".into(), "Low".into());
        stored.values.insert("company".into(), "Acme".into());
        let fields = ["title".into(), "priority".into(), "company".into()];
        let limits = [("title".to_string(), 100)];
        let changed = adopt_normalised(&mut side, &stored, &fields, &limits);
        assert_eq!(changed, vec!["title".to_string()]);
        assert_eq!(side.values["title"], long[..100]);
        assert_eq!(side.values["priority"], "High", "an edit, not kept");
        assert_eq!(
            side.values["company"], "Acme Ltd",
            "a prefix without a limit is an edit"
        );
    }
}
