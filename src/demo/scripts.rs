//! The story scripts of the nine directions whose mappings are written from
//! the system profiles ([`super::profiles`]): each takes its labels from the
//! two profiles and states the writes the story needs from the bridge, as
//! (internal, MSP). The story is the same for every direction, so the counts
//! follow one rule:
//!
//! - internal side: the write-back note, the write-back field where the
//!   system has one (not ConnectWise), the MSP's status In Progress (Jira:
//!   two transitions, Escalated has no direct way to In Progress), the MSP's
//!   public note, the MSP's resolution note, the closed status (one write or
//!   one transition) and the close-rule note;
//! - MSP side: the ticket, the tech's reply and the priority.
//!
//! Anything more is an echo or a duplicate.

use super::profiles::{Profile, AUTOTASK, CONNECTWISE, JIRA, SERVICENOW};
use super::story::Script;

/// The script of `i` → `m` with the given writes.
const fn script(i: &'static Profile, m: &'static Profile, writes: (usize, usize)) -> Script {
    Script {
        internal_high: i.priorities[1],
        internal_critical: i.priorities[0],
        internal_in_progress: i.in_progress,
        internal_done: i.done[0].label,
        msp_in_progress: m.in_progress,
        msp_critical: m.priorities[0],
        msp_closed: m.done[0].label,
        expected_writes: writes,
    }
}

/// Autotask → ServiceNow. Autotask: note and UDF, status, note, resolution
/// note, Complete, close-rule note (7). ServiceNow: the incident, the
/// reply (a comment) and the priority (impact and urgency) (3).
pub const AUTOTASK_TO_SERVICENOW: Script = script(&AUTOTASK, &SERVICENOW, (7, 3));

/// Autotask → Jira. Autotask as above (7). Jira: the issue (created Open,
/// no transition), the reply and the priority (3).
pub const AUTOTASK_TO_JIRA: Script = script(&AUTOTASK, &JIRA, (7, 3));

/// ConnectWise → Autotask. ConnectWise: the write-back note (no field),
/// status, note, resolution note, >Closed, close-rule note (6). Autotask:
/// the ticket, the reply and the priority (3).
pub const CONNECTWISE_TO_AUTOTASK: Script = script(&CONNECTWISE, &AUTOTASK, (6, 3));

/// ConnectWise → ServiceNow: ConnectWise as above (6); ServiceNow (3).
pub const CONNECTWISE_TO_SERVICENOW: Script = script(&CONNECTWISE, &SERVICENOW, (6, 3));

/// ConnectWise → Jira: ConnectWise as above (6); Jira (3).
pub const CONNECTWISE_TO_JIRA: Script = script(&CONNECTWISE, &JIRA, (6, 3));

/// ServiceNow → Autotask. ServiceNow: work note and `correlation_id`,
/// state, comment, resolution comment, Resolved with its close code and
/// (fixed) close notes, close-rule work note (7). Autotask (3).
pub const SERVICENOW_TO_AUTOTASK: Script = script(&SERVICENOW, &AUTOTASK, (7, 3));

/// ServiceNow → Jira: ServiceNow as above (7); Jira (3).
pub const SERVICENOW_TO_JIRA: Script = script(&SERVICENOW, &JIRA, (7, 3));

/// Jira → ConnectWise. Jira: comment and "MSP Ticket", two transitions to
/// In Progress, comment, resolution comment, Resolve, close-rule comment
/// (8). ConnectWise (3).
pub const JIRA_TO_CONNECTWISE: Script = script(&JIRA, &CONNECTWISE, (8, 3));

/// Jira → ServiceNow: Jira as above (8); ServiceNow (3).
pub const JIRA_TO_SERVICENOW: Script = script(&JIRA, &SERVICENOW, (8, 3));
