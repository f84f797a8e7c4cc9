//! Escalation accountability: business calendars, response targets per
//! pairing and priority, the custody ledger derived from the audit trail,
//! and the monitor that audits near-breaches and breaches.
//!
//! - [`calendar`]: business seconds between instants and due times (time
//!   zones, weekly hours, holidays, DST).
//! - [`targets`]: the runtime form of a mapping's `[targets]` section.
//! - [`ledger`]: per link, from audit entries only: escalation, first MSP
//!   response, resolution, paused time, custody, target outcomes.
//! - [`outcomes`]: business time counted against each target, due times.
//! - [`monitor`]: the daemon task writing `target_near_breach` /
//!   `target_breached` entries, metrics and optional notes.

pub mod calendar;
pub mod ledger;
pub mod monitor;
pub mod outcomes;
pub mod targets;

pub use ledger::{ledgers, LinkLedger};
pub use monitor::pairing_targets;
