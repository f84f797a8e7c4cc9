//! The escalation story, step by step: a tier-1 tech escalates a ticket in
//! the internal system, the MSP picks it up in its own system and adds a
//! public and an internal note, the tech replies, adds an internal note and
//! raises the priority, the MSP resolves. Internal notes stay on their side. Each
//! step acts as a person at one [`Desk`] and waits until the other desk
//! shows the result, so the same story plays for every pairing; a
//! [`Script`] holds the pairing's labels and the writes it needs.

use std::time::Duration;

use super::desk::Desk;
pub use super::scripts::*;
use super::{wait_for, DemoEnv, DemoError};

/// The labels one pairing's story uses on each side, and the ticket and
/// note writes the whole story needs from the bridge (internal, MSP).
/// Anything more is an echo or a duplicate.
#[derive(Debug)]
pub struct Script {
    pub internal_high: &'static str,
    pub internal_critical: &'static str,
    pub internal_in_progress: &'static str,
    pub internal_done: &'static str,
    pub msp_in_progress: &'static str,
    pub msp_critical: &'static str,
    pub msp_closed: &'static str,
    pub expected_writes: (usize, usize),
}

/// Autotask (internal) ↔ ConnectWise (MSP) with the shipped mapping.
/// Autotask writes: write-back note and field, the MSP's status and note,
/// the resolution note, status Complete and the close-rule note.
/// ConnectWise writes: the ticket, the tech's reply and the priority.
pub const AUTOTASK_TO_CONNECTWISE: Script = Script {
    internal_high: "High",
    internal_critical: "Critical",
    internal_in_progress: "In Progress",
    internal_done: "Complete",
    msp_in_progress: "In Progress",
    msp_critical: "Priority 1 - Emergency Response",
    msp_closed: ">Closed",
    expected_writes: (7, 3),
};

/// ServiceNow (internal) ↔ ConnectWise (MSP) with the shipped mapping.
/// ServiceNow writes: write-back work note and `correlation_id`, the MSP's
/// state and comment, the resolution comment, state Resolved (with its
/// close code and notes) and the close-rule work note. ConnectWise writes:
/// the ticket, the tech's reply and the priority.
pub const SERVICENOW_TO_CONNECTWISE: Script = Script {
    internal_high: "2 - High",
    internal_critical: "1 - Critical",
    internal_in_progress: "In Progress",
    internal_done: "Resolved",
    msp_in_progress: "In Progress",
    msp_critical: "Priority 1 - Emergency Response",
    msp_closed: ">Closed",
    expected_writes: (7, 3),
};

/// Jira Service Management (internal) ↔ Autotask (MSP) with the shipped
/// mapping. Jira writes: the write-back comment and "MSP Ticket" field, the
/// MSP's status (two transitions: Escalated has no direct way to In
/// Progress) and comment, the resolution comment, the Resolve transition
/// and the close-rule comment. Autotask writes: the ticket, the tech's reply
/// and the priority.
pub const JIRA_TO_AUTOTASK: Script = Script {
    internal_high: "High",
    internal_critical: "Highest",
    internal_in_progress: "In Progress",
    internal_done: "Resolved",
    msp_in_progress: "In Progress",
    msp_critical: "Critical",
    msp_closed: "Complete",
    expected_writes: (8, 3),
};

/// The Autotask ↔ ConnectWise story's writes, as (Autotask, ConnectWise).
pub const EXPECTED_WRITES: (usize, usize) = AUTOTASK_TO_CONNECTWISE.expected_writes;

/// The two tickets of the story once linked.
pub struct Story<'a> {
    internal: Box<dyn Desk + 'a>,
    msp: Box<dyn Desk + 'a>,
    pub script: &'static Script,
    pub timeout: Duration,
    /// The internal ticket's id and number, once opened.
    pub internal_id: String,
    pub internal_number: String,
    /// The MSP ticket's id and number, once the bridge created it.
    pub msp_id: String,
    pub msp_number: String,
    narrate: bool,
}

impl<'a> Story<'a> {
    /// The story of `env`'s pairing.
    pub fn new(env: &'a DemoEnv, timeout: Duration, narrate: bool) -> Self {
        let (internal, msp, script) = env.desks();
        Self {
            internal,
            msp,
            script,
            timeout,
            internal_id: String::new(),
            internal_number: String::new(),
            msp_id: String::new(),
            msp_number: String::new(),
            narrate,
        }
    }

    /// The internal ticket's id where the internal system is Autotask.
    pub fn autotask_id(&self) -> i64 {
        self.internal_id.parse().unwrap_or(-1)
    }

    /// The MSP ticket's id where the MSP system is ConnectWise.
    pub fn connectwise_id(&self) -> i64 {
        self.msp_id.parse().unwrap_or(-1)
    }

    /// The internal desk, to act on or read in a test.
    pub fn internal(&self) -> &dyn Desk {
        self.internal.as_ref()
    }

    /// The MSP desk.
    pub fn msp(&self) -> &dyn Desk {
        self.msp.as_ref()
    }

    fn say(&self, desk: &dyn Desk, text: String) {
        if self.narrate {
            println!("{:<14}{text}", format!("[{}]", desk.system()));
        }
    }

    /// Step 1: the tech opens a ticket and escalates it.
    pub async fn escalate(&mut self) -> Result<(), DemoError> {
        let internal = self.internal.as_ref();
        let t = internal.open(
            "VPN down at branch office",
            "Users at the Leeds branch cannot reach the file server since 9:00.",
            self.script.internal_high,
        );
        self.say(
            internal,
            format!(
                "Tina (tier 1) opens {} \"{}\" (priority {}).",
                t.number, t.title, t.priority
            ),
        );
        internal.escalate(&t.id);
        self.say(
            internal,
            format!("Tina {}.", internal.escalation(&t.number)),
        );
        let far_number = wait_for(
            "the MSP ticket and the write-back on the internal ticket",
            self.timeout,
            || {
                let number = internal.ticket(&t.id)?.far_number?;
                let has_note = internal
                    .notes(&t.id)
                    .iter()
                    .any(|n| n.text.contains(&format!("#{number}")));
                has_note.then_some(number)
            },
        )
        .await?;
        let msp = self.msp.as_ref();
        let msp_id = wait_for("the MSP ticket", self.timeout, || {
            msp.id_of_number(&far_number)
        })
        .await?;
        if let Some(far) = msp.ticket(&msp_id) {
            self.say(
                msp,
                format!(
                    "Ticket #{} appears on {}: \"{}\" ({}, {}).",
                    far.number, far.placement, far.title, far.status, far.priority
                ),
            );
        }
        self.say(
            internal,
            format!(
                "{} gets an internal note and the MSP's ticket number {far_number}.",
                t.number
            ),
        );
        self.internal_id = t.id;
        self.internal_number = t.number;
        self.msp_id = msp_id;
        self.msp_number = far_number;
        Ok(())
    }

    /// Step 2: the MSP engineer starts work and writes to the customer, plus an internal note.
    pub async fn msp_picks_up(&self) -> Result<(), DemoError> {
        let msp = self.msp.as_ref();
        msp.set_status(&self.msp_id, self.script.msp_in_progress);
        msp.add_note(
            &self.msp_id,
            "Looking at the branch firewall's VPN logs now.",
            true,
            "jsmith",
        );
        msp.add_note(
            &self.msp_id,
            "Firewall firmware is two years old; plan an upgrade.",
            false,
            "jsmith",
        );
        self.say(
            msp,
            format!(
                "John (MSP) sets #{} to {}, writes a public note and an internal note.",
                self.msp_number, self.script.msp_in_progress
            ),
        );
        let internal = self.internal.as_ref();
        let id = &self.internal_id;
        wait_for(
            "the MSP's status and note on the internal ticket",
            self.timeout,
            || {
                let status_ok = internal.ticket(id)?.status == self.script.internal_in_progress;
                let note = internal
                    .notes(id)
                    .into_iter()
                    .find(|n| n.text.contains("VPN logs"))?;
                (status_ok && note.public).then_some(())
            },
        )
        .await?;
        self.say(
            internal,
            format!(
                "{} is now {} and shows John's note (public).",
                self.internal_number, self.script.internal_in_progress
            ),
        );
        Ok(())
    }

    /// Step 3: the tech answers, notes something for her team only (it
    /// stays on the internal side) and raises the priority.
    pub async fn tech_replies(&self) -> Result<(), DemoError> {
        let internal = self.internal.as_ref();
        internal.add_note(
            &self.internal_id,
            "Thanks! Branch staff are on site until 17:00.",
            true,
            "Tina Tech",
        );
        internal.add_note(
            &self.internal_id,
            "Branch manager's mobile is in our contact list; not for the MSP.",
            false,
            "Tina Tech",
        );
        internal.set_priority(&self.internal_id, self.script.internal_critical);
        self.say(
            internal,
            format!(
                "Tina replies on {}, adds an internal note and raises the priority to {}.",
                self.internal_number, self.script.internal_critical
            ),
        );
        let msp = self.msp.as_ref();
        let id = &self.msp_id;
        wait_for(
            "the tech's reply and priority on the MSP ticket",
            self.timeout,
            || {
                let priority_ok = msp.ticket(id)?.priority == self.script.msp_critical;
                let note = msp
                    .notes(id)
                    .into_iter()
                    .find(|n| n.text.contains("on site until"))?;
                (priority_ok && note.public).then_some(())
            },
        )
        .await?;
        self.say(
            msp,
            format!(
                "#{} shows Tina's reply and {}.",
                self.msp_number, self.script.msp_critical
            ),
        );
        Ok(())
    }

    /// Step 4: the MSP resolves; both tickets end closed.
    pub async fn msp_resolves(&self) -> Result<(), DemoError> {
        let msp = self.msp.as_ref();
        msp.add_resolution(
            &self.msp_id,
            "Replaced the expired VPN certificate; tunnel is up.",
            "jsmith",
        );
        msp.set_status(&self.msp_id, self.script.msp_closed);
        self.say(
            msp,
            format!(
                "John adds a resolution note and closes #{}.",
                self.msp_number
            ),
        );
        let internal = self.internal.as_ref();
        let id = &self.internal_id;
        wait_for("the internal ticket to close", self.timeout, || {
            let done = internal.ticket(id)?.status == self.script.internal_done;
            let note = internal
                .notes(id)
                .iter()
                .any(|n| n.text.contains("expired VPN certificate"));
            (done && note).then_some(())
        })
        .await?;
        self.say(
            internal,
            format!(
                "{} is {} and carries the resolution.",
                self.internal_number, self.script.internal_done
            ),
        );
        Ok(())
    }

    /// All four steps.
    pub async fn play(&mut self) -> Result<(), DemoError> {
        self.escalate().await?;
        self.msp_picks_up().await?;
        self.tech_replies().await?;
        self.msp_resolves().await
    }
}
