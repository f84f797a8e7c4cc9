//! The shipped mappings written out from the system profiles
//! ([`super::profiles`]), so every direction uses the same labels, keys and
//! companion fields. A test compares each generated text with its file in
//! `mappings/` (the three hand-written originals excepted);
//! `PSA_BLESS_MAPPINGS=1 cargo test --lib mapping_text` rewrites them.

use std::fmt::Write;

use super::profiles::{profile, Label, Profile};
use super::System;

/// The directions whose mapping files were written by hand before the
/// profiles existed (they say the same, in their own words).
pub const HAND_WRITTEN: [(System, System); 3] = [
    (System::Autotask, System::Connectwise),
    (System::Servicenow, System::Connectwise),
    (System::Jira, System::Autotask),
];

/// The file name of a direction's mapping.
pub fn file_name(internal: System, msp: System) -> String {
    format!("{}-to-{}.toml", internal.connection(), msp.connection())
}

/// `{ a = "X", b = "Y", b_with = { … } }`.
fn pair(a: &Label, b: &Label, i: &Profile, m: &Profile) -> String {
    let mut out = format!("{{ a = \"{}\", b = \"{}\"", a.label, b.label);
    for (side, label, other) in [("a", a, m), ("b", b, i)] {
        if label.with.is_empty() {
            continue;
        }
        let fields: Vec<String> = label
            .with
            .iter()
            .map(|(k, v)| format!("{k} = \"{}\"", companion(v, side, other)))
            .collect();
        let _ = write!(out, ", {side}_with = {{ {} }}", fields.join(", "));
    }
    out.push_str(" }");
    out
}

/// A companion value; `{resolution}` stays only where the other side's
/// notes can be resolution notes.
fn companion(value: &str, side: &str, other: &Profile) -> String {
    if !value.contains("{resolution}") || other.resolution_notes {
        return value.to_string();
    }
    let who = if side == "a" {
        "The MSP"
    } else {
        "The client's IT team"
    };
    value.replace(
        "{resolution}",
        &format!(
            "{who} resolved its {} ticket; see the comments.",
            other.product
        ),
    )
}

fn status_rows(i: &Profile, m: &Profile) -> Vec<String> {
    let new_a = Label {
        label: i.new_internal,
        with: &[],
    };
    let new_b = Label {
        label: m.new_msp,
        with: &[],
    };
    let prog_a = Label {
        label: i.in_progress,
        with: &[],
    };
    let prog_b = Label {
        label: m.in_progress,
        with: &[],
    };
    let mut rows = vec![
        pair(&new_a, &new_b, i, m),
        pair(&prog_a, &prog_b, i, m),
        pair(&i.waiting, &m.waiting, i, m),
        pair(&i.done[0], &m.done[0], i, m),
    ];
    for extra in &i.done[1..] {
        rows.push(pair(extra, &m.done[0], i, m));
    }
    for extra in &m.done[1..] {
        rows.push(pair(&i.done[0], extra, i, m));
    }
    rows
}

fn priority_rows(i: &Profile, m: &Profile) -> Vec<String> {
    let row = |a: &str, b: &str| format!("{{ a = \"{a}\", b = \"{b}\" }}");
    let mut rows: Vec<String> = (0..4)
        .map(|n| row(i.priorities[n], m.priorities[n]))
        .collect();
    for (label, level) in i.extra_priorities {
        rows.push(row(label, m.priorities[*level]));
    }
    for (label, level) in m.extra_priorities {
        rows.push(row(i.priorities[*level], label));
    }
    rows
}

fn values(rows: &[String]) -> String {
    let mut out = String::from("values = [\n");
    for row in rows {
        let _ = writeln!(out, "  {row},");
    }
    out.push_str("]\n");
    out
}

/// What happens to the mirror of a public note made internal after it
/// crossed, on each side.
fn hiding(i: &Profile, m: &Profile) -> String {
    match (i.can_hide_notes, m.can_hide_notes) {
        (true, true) => "its mirror is made internal too (audited)".to_string(),
        (false, false) => format!(
            "neither {} nor {} can change a note's visibility, so its mirror stays \
             public (the bridge warns and audits it)",
            i.product, m.product
        ),
        _ => {
            let (can, cannot) = if i.can_hide_notes { (i, m) } else { (m, i) };
            format!(
                "a mirror on {} is made internal too (audited); {} cannot change a \
                 note's visibility, so a mirror there stays public (the bridge warns \
                 and audits it)",
                can.product, cannot.product
            )
        }
    }
}

/// `text` as `#` comment lines of at most 78 characters.
fn comment(t: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 78 && line.len() > 1 {
            let _ = writeln!(t, "{line}");
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    let _ = writeln!(t, "{line}");
}

/// The mapping text of `internal` → `msp`.
pub fn render(internal: System, msp: System) -> String {
    let (i, m) = (profile(internal), profile(msp));
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Mapping: {} (side a, the client's internal IT team{})\n\
         #      ↔ {} (side b, the MSP).\n#",
        i.long_name, i.internal_where, m.long_name,
    );
    comment(
        &mut t,
        &format!(
            "Used by `psa-bridge demo --internal {} --msp {}`. The labels are those of \
             the simulators' default tenants: use your own. `psa-bridge check --config FILE` \
             asks both systems and names any label they do not have. (Written from \
             src/demo/profiles.rs, like every shipped mapping between these four systems.)",
            internal.connection(),
            msp.connection(),
        ),
    );
    t.push('\n');
    comment(
        &mut t,
        &format!(
            "Which tickets get linked: {} is escalated once; from then on both tickets \
             stay in sync.",
            i.trigger_text
        ),
    );
    let _ = writeln!(
        t,
        "[trigger]\nside = \"a\"\n{} = \"{}\"\n",
        i.trigger.0, i.trigger.1
    );
    comment(
        &mut t,
        &format!(
            "What the new {} ticket gets. Placement keys are the connector's: {}",
            m.product, m.placement_keys
        ),
    );
    let _ = writeln!(t, "[create]\nplacement = {}", m.placement);
    comment(
        &mut t,
        &format!(
            "{{title}} and {{number}} are the {} ticket's (title, {}).",
            i.product, i.number
        ),
    );
    t.push_str("title_template = \"{title} [{number}]\"\n\n");
    let field_text = match i.write_back_field {
        Some((_, how)) => format!(", and its number in {how}."),
        None => format!(". {}", i.no_write_back_field),
    };
    comment(
        &mut t,
        &format!(
            "How the {} ticket learns where it went: an {}{field_text} {{number}} is the \
             new {} ticket's {}.",
            i.product, i.internal_note, m.product, m.number
        ),
    );
    let _ = writeln!(
        t,
        "[write_back]\nnote = \"Escalated to the MSP: {} ticket #{{number}}.\"\n\
         note_visibility = \"internal\"",
        m.product
    );
    if let Some((field, _)) = i.write_back_field {
        let _ = writeln!(t, "field = \"{field}\"");
    }
    t.push('\n');
    comment(
        &mut t,
        "The internal team owns the title and the priority; the MSP owns the status. \
         `owner` only matters when both sides changed a field since the last sync: the \
         owner's value wins and the other is recorded in the audit log.",
    );
    t.push_str("[[fields]]\nname = \"title\"\ndirection = \"both\"\nowner = \"a\"\n");
    if let Some(max) = m.title_max {
        let _ = writeln!(
            t,
            "max_length_b = {max}          # {} titles hold at most {max} characters",
            m.product
        );
    }
    t.push('\n');
    let mut status_text = String::from(
        "From b to a the first pair whose b matches wins (from a to b the first whose a \
         matches), so every closed status closes the other side.",
    );
    for p in [i, m] {
        if !p.status_text.is_empty() {
            status_text.push(' ');
            status_text.push_str(p.status_text);
        }
    }
    comment(&mut t, &status_text);
    t.push_str("[[fields]]\nname = \"status\"\ndirection = \"both\"\nowner = \"b\"\n");
    t.push_str(&values(&status_rows(i, m)));
    t.push('\n');
    if internal == System::Servicenow || msp == System::Servicenow {
        comment(
            &mut t,
            "ServiceNow computes the priority from impact and urgency; the connector \
             writes the pair its `priority_matrix` gives for the label and reads back the \
             label the instance computed.",
        );
    }
    t.push_str("[[fields]]\nname = \"priority\"\ndirection = \"both\"\nowner = \"a\"\n");
    t.push_str(&values(&priority_rows(i, m)));
    t.push('\n');
    let description = if msp == System::Connectwise {
        "ConnectWise initial description; later edits arrive as internal notes \
         (ConnectWise has no editable description)."
            .to_string()
    } else {
        format!(
            "{} description; later edits arrive as {}.",
            m.product, m.internal_notes
        )
    };
    comment(
        &mut t,
        &format!("The {} description becomes the {description}", i.product),
    );
    t.push_str("[description]\non_create = true\nupdates = \"internal_note\"\n\n");
    comment(
        &mut t,
        &format!(
            "{} {} and {} {} flow both ways as public (customer-visible) notes. {} {} \
             and {} {} stay on their side unless `internal` names a direction; when \
             allowed they arrive internal, never customer-visible. A public note made \
             internal after it crossed: {}.",
            i.product,
            i.public_notes,
            m.product,
            m.public_notes,
            i.product,
            i.internal_notes,
            m.product,
            m.internal_notes,
            hiding(i, m),
        ),
    );
    t.push_str(
        "[comments]\npublic = \"both\"\ninternal = \"none\"\n\
         author_header = \"{author} ({system}) wrote:\"\n\n",
    );
    comment(
        &mut t,
        &format!(
            "When the MSP closes its ticket, set the {} ticket to {} (if the status \
             mapping has not already) and say so in an {}.",
            i.product, i.done[0].label, i.internal_note
        ),
    );
    let _ = write!(
        t,
        "[on_close.b]\nset_status = \"{}\"\nnote = \"The MSP closed its ticket.\"\n\
         note_visibility = \"internal\"\n",
        i.done[0].label
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEMS: [System; 4] = [
        System::Autotask,
        System::Connectwise,
        System::Servicenow,
        System::Jira,
    ];

    /// Every generated direction's file is in `mappings/` as generated.
    #[test]
    fn shipped_mappings_match_the_profiles() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        let bless = std::env::var_os("PSA_BLESS_MAPPINGS").is_some();
        let mut stale = Vec::new();
        for internal in SYSTEMS {
            for msp in SYSTEMS {
                if internal == msp || HAND_WRITTEN.contains(&(internal, msp)) {
                    continue;
                }
                let path = dir.join(file_name(internal, msp));
                let wanted = render(internal, msp);
                if bless {
                    std::fs::write(&path, &wanted).unwrap();
                }
                if std::fs::read_to_string(&path).ok().as_deref() != Some(wanted.as_str()) {
                    stale.push(path.display().to_string());
                }
            }
        }
        assert!(
            stale.is_empty(),
            "out of date (PSA_BLESS_MAPPINGS=1 cargo test --lib mapping_text rewrites them): {stale:?}"
        );
    }

    /// `{resolution}` is kept only where the other side has resolution notes.
    #[test]
    fn close_notes_without_resolution_notes_are_fixed_text() {
        let from_cw = render(System::Servicenow, System::Connectwise);
        assert!(
            from_cw.contains("close_notes = \"{resolution}\""),
            "{from_cw}"
        );
        let from_jira = render(System::Servicenow, System::Jira);
        assert!(
            from_jira
                .contains("close_notes = \"The MSP resolved its Jira ticket; see the comments.\""),
            "{from_jira}"
        );
    }
}
