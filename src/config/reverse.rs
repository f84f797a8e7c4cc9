//! `[reverse_trigger]`: the far side may start a link too (the MSP opening
//! work for a client, or escalating back). An open ticket on the side
//! opposite `[trigger]` that is in `queue` and/or has `status`, carries no
//! bridge marker and lies inside that side's scope (`config::scope`: with
//! several client pairings sharing the MSP connection, only the client
//! whose company the ticket belongs to gets it) gets a new ticket on the
//! trigger side, placed by `placement` and titled by `title_template`.
//! No write-back is done for these (`[write_back]` names trigger-side
//! fields). The planner escalates with the same code either way
//! (`engine::trigger`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::error::line_of;
use super::mapping::Mapping;
use super::ConfigError;
use crate::store::Side;

/// `[reverse_trigger]` in a mapping file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseTrigger {
    /// Queue / board / assignment group / project label on the far side.
    #[serde(default)]
    pub queue: Option<Spanned<String>>,
    /// Status label on the far side.
    #[serde(default)]
    pub status: Option<Spanned<String>>,
    /// Connector placement keys of the ticket created on the trigger side.
    #[serde(default)]
    pub placement: BTreeMap<String, String>,
    /// Title of that ticket; `{title}` and `{number}` are the far ticket's.
    #[serde(default = "default_title_template")]
    pub title_template: String,
}

fn default_title_template() -> String {
    "{title}".into()
}

impl ReverseTrigger {
    /// Whether a ticket in `queue` with `status` meets it (like [`super::mapping::Trigger::met_by`]).
    pub fn met_by(&self, queue: Option<&str>, status: &str) -> bool {
        super::mapping::condition_met(&self.queue, &self.status, queue, status)
    }

    /// In words, for the audit log.
    pub fn describe(&self) -> String {
        super::mapping::describe_condition(&self.queue, &self.status)
    }
}

/// What a ticket escalated from `side` creates on the other side.
pub struct CreateFrom<'a> {
    pub placement: &'a BTreeMap<String, String>,
    pub title_template: &'a str,
    /// Whether `[write_back]` applies (only to the trigger side's tickets).
    pub write_back: bool,
    /// The trigger in words.
    pub trigger: String,
}

impl Mapping {
    /// The side a reverse trigger starts links from, if there is one.
    pub fn reverse_side(&self) -> Option<Side> {
        self.reverse_trigger
            .as_ref()
            .map(|_| self.trigger.side.other())
    }

    /// How a ticket escalated from `side` is created on the other side.
    pub fn create_from(&self, side: Side) -> CreateFrom<'_> {
        match &self.reverse_trigger {
            Some(reverse) if side != self.trigger.side => CreateFrom {
                placement: &reverse.placement,
                title_template: &reverse.title_template,
                write_back: false,
                trigger: reverse.describe(),
            },
            _ => CreateFrom {
                placement: &self.create.placement,
                title_template: &self.create.title_template,
                write_back: true,
                trigger: self.trigger.describe(),
            },
        }
    }
}

/// Checks `[reverse_trigger]`: a queue or a status, neither blank.
pub fn validate(mapping: &Mapping, file: &Path, text: &str) -> Result<(), ConfigError> {
    let Some(reverse) = &mapping.reverse_trigger else {
        return Ok(());
    };
    for (key, value) in [("queue", &reverse.queue), ("status", &reverse.status)] {
        if let Some(value) = value.as_ref().filter(|v| v.get_ref().trim().is_empty()) {
            return Err(ConfigError::new(
                file,
                Some(line_of(text, value.span().start)),
                format!("reverse_trigger.{key}"),
                "must not be empty",
            ));
        }
    }
    if reverse.queue.is_none() && reverse.status.is_none() {
        return Err(ConfigError::new(
            file,
            None,
            "reverse_trigger",
            "give a queue, a status, or both: which far-side tickets start a link",
        ));
    }
    Ok(())
}
