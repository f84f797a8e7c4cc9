//! The escalation story, step by step: a tier-1 tech escalates an Autotask
//! ticket, the MSP picks it up in ConnectWise and adds a note, the tech
//! replies and raises the priority, the MSP resolves. Each step acts as a
//! person on one simulator and waits until the other side shows the result.

use std::time::Duration;

use psa_connectwise::sim::SimNoteKind;

use super::{wait_for, DemoEnv, DemoError};

/// Ticket and note writes the whole story needs from the bridge, as
/// (Autotask, ConnectWise). Autotask: write-back note and field, the MSP's
/// status and note, the resolution note, status Complete and the close-rule
/// note. ConnectWise: the ticket, the tech's reply and the priority. Anything
/// more is an echo or a duplicate.
pub const EXPECTED_WRITES: (usize, usize) = (7, 3);

/// The two tickets of the story once linked.
pub struct Story<'a> {
    pub env: &'a DemoEnv,
    pub timeout: Duration,
    pub autotask_id: i64,
    pub autotask_number: String,
    pub connectwise_id: i64,
    narrate: bool,
}

impl<'a> Story<'a> {
    pub fn new(env: &'a DemoEnv, timeout: Duration, narrate: bool) -> Self {
        Self {
            env,
            timeout,
            autotask_id: 0,
            autotask_number: String::new(),
            connectwise_id: 0,
            narrate,
        }
    }

    fn say(&self, text: String) {
        if self.narrate {
            println!("{text}");
        }
    }

    /// Step 1: the tech opens a ticket and escalates it by moving it to "Escalate to MSP".
    pub async fn escalate(&mut self) -> Result<(), DemoError> {
        let at = &self.env.autotask;
        let t = at.user_create_ticket(
            "VPN down at branch office",
            "Users at the Leeds branch cannot reach the file server since 9:00.",
            "Level I Support",
            "High",
        );
        self.autotask_id = t.id;
        self.autotask_number = t.number.clone();
        self.say(format!(
            "[Autotask]    Tina (tier 1) opens {} \"{}\" (priority High).",
            t.number, t.title
        ));
        at.user_set_queue(t.id, "Escalate to MSP");
        self.say(format!(
            "[Autotask]    Tina moves {} to the queue \"Escalate to MSP\".",
            t.number
        ));
        let id = t.id;
        let cw_id = wait_for(
            "the ConnectWise ticket and the Autotask write-back",
            self.timeout,
            || {
                let ticket = at.ticket(id)?;
                let number = ticket
                    .udfs
                    .get("MSP Ticket")
                    .filter(|v| !v.is_empty())?
                    .clone();
                let has_note = at
                    .notes(id)
                    .iter()
                    .any(|n| n.text.contains(&format!("#{number}")));
                has_note.then_some(number)
            },
        )
        .await?;
        self.connectwise_id = cw_id.parse().unwrap_or_default();
        if let Some(cw) = self.env.connectwise.ticket(self.connectwise_id) {
            self.say(format!(
                "[ConnectWise] Ticket #{} appears on board \"{}\" for {}: \"{}\" ({}, {}).",
                cw.id, cw.board, cw.company, cw.summary, cw.status, cw.priority
            ));
        }
        self.say(format!(
            "[Autotask]    {} gets an internal note and its \"MSP Ticket\" field says {cw_id}.",
            self.autotask_number
        ));
        Ok(())
    }

    /// Step 2: the MSP engineer starts work and writes to the customer, plus an internal note.
    pub async fn msp_picks_up(&self) -> Result<(), DemoError> {
        let cw = &self.env.connectwise;
        cw.user_set_status(self.connectwise_id, "In Progress");
        cw.user_add_note(
            self.connectwise_id,
            "Looking at the branch firewall's VPN logs now.",
            SimNoteKind::Discussion,
            "jsmith",
        );
        cw.user_add_note(
            self.connectwise_id,
            "Firewall firmware is two years old; plan an upgrade.",
            SimNoteKind::Internal,
            "jsmith",
        );
        self.say(format!(
            "[ConnectWise] John (MSP) sets #{} to In Progress, writes a discussion note and an internal note.",
            self.connectwise_id
        ));
        let at = &self.env.autotask;
        let id = self.autotask_id;
        wait_for(
            "the MSP's status and note in Autotask",
            self.timeout,
            || {
                let status_ok = at.ticket(id)?.status == "In Progress";
                let note = at
                    .notes(id)
                    .into_iter()
                    .find(|n| n.text.contains("VPN logs"))?;
                (status_ok && !note.internal).then_some(())
            },
        )
        .await?;
        self.say(format!(
            "[Autotask]    {} is now In Progress and shows John's note (public).",
            self.autotask_number
        ));
        Ok(())
    }

    /// Step 3: the tech answers in Autotask and raises the priority.
    pub async fn tech_replies(&self) -> Result<(), DemoError> {
        let at = &self.env.autotask;
        at.user_add_note(
            self.autotask_id,
            "Thanks! Branch staff are on site until 17:00.",
            false,
            "Tina Tech",
        );
        at.user_set_priority(self.autotask_id, "Critical");
        self.say(format!(
            "[Autotask]    Tina replies on {} and raises the priority to Critical.",
            self.autotask_number
        ));
        let cw = &self.env.connectwise;
        let id = self.connectwise_id;
        wait_for(
            "the tech's reply and priority in ConnectWise",
            self.timeout,
            || {
                let priority_ok = cw.ticket(id)?.priority == "Priority 1 - Emergency Response";
                let note = cw
                    .notes(id)
                    .into_iter()
                    .find(|n| n.text.contains("on site until"))?;
                (priority_ok && note.discussion && !note.internal).then_some(())
            },
        )
        .await?;
        self.say(format!(
            "[ConnectWise] #{} shows Tina's reply and Priority 1 - Emergency Response.",
            self.connectwise_id
        ));
        Ok(())
    }

    /// Step 4: the MSP resolves; both tickets end closed.
    pub async fn msp_resolves(&self) -> Result<(), DemoError> {
        let cw = &self.env.connectwise;
        cw.user_add_note(
            self.connectwise_id,
            "Replaced the expired VPN certificate; tunnel is up.",
            SimNoteKind::Resolution,
            "jsmith",
        );
        cw.user_set_status(self.connectwise_id, ">Closed");
        self.say(format!(
            "[ConnectWise] John adds a resolution note and closes #{}.",
            self.connectwise_id
        ));
        let at = &self.env.autotask;
        let id = self.autotask_id;
        wait_for("Autotask to complete the ticket", self.timeout, || {
            let done = at.ticket(id)?.status == "Complete";
            let note = at
                .notes(id)
                .iter()
                .any(|n| n.text.contains("expired VPN certificate"));
            (done && note).then_some(())
        })
        .await?;
        self.say(format!(
            "[Autotask]    {} is Complete and carries the resolution.",
            self.autotask_number
        ));
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
