//! The workload's changes, drawn from a seed, and the state they leave:
//! each linked ticket's last priority (set on the internal side), last
//! status (set on the MSP side) and every note with the side it was made on.

use rand::rngs::StdRng;
use rand::Rng;

use psa_bridge::demo::DemoEnv;

use super::Lane;

/// One escalated ticket and what has been done to it so far.
#[derive(Clone, Debug)]
pub struct Linked {
    pub lane: usize,
    pub index: usize,
    pub internal_id: String,
    pub msp_id: String,
    /// Index into the lane's priorities.
    pub priority: usize,
    /// Index into the lane's statuses, once the MSP has set one.
    pub status: Option<usize>,
    pub notes: Vec<NoteMade>,
}

/// A note someone added, found by its unique token.
#[derive(Clone, Debug)]
pub struct NoteMade {
    pub token: String,
    pub on_internal: bool,
    pub public: bool,
}

/// One change a person makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Priority {
        ticket: usize,
        value: usize,
    },
    Status {
        ticket: usize,
        value: usize,
    },
    Note {
        ticket: usize,
        on_internal: bool,
        public: bool,
    },
}

/// What the workload did, and so what the systems must show.
#[derive(Debug, Default)]
pub struct Expected {
    pub tickets: Vec<Linked>,
    /// Changes made (priorities, statuses, notes), by kind.
    pub priorities: usize,
    pub statuses: usize,
    pub notes: usize,
}

impl Expected {
    pub fn changes(&self) -> usize {
        self.priorities + self.statuses + self.notes
    }
}

/// Draws the next change: a ticket at random, then a priority (never the
/// current one), a status (the other one), or a public or internal note on
/// either side.
pub fn draw(rng: &mut StdRng, expected: &Expected) -> Change {
    let ticket = rng.random_range(0..expected.tickets.len());
    let t = &expected.tickets[ticket];
    match rng.random_range(0..10) {
        0..=1 => {
            let value = (t.priority + rng.random_range(1..4)) % 4;
            Change::Priority { ticket, value }
        }
        2..=3 => {
            let value = match t.status {
                Some(current) => 1 - current,
                None => rng.random_range(0..2),
            };
            Change::Status { ticket, value }
        }
        n => Change::Note {
            ticket,
            on_internal: n % 2 == 0,
            public: n != 9,
        },
    }
}

/// Makes `change` at the right desk and records it in `expected`.
pub fn apply(env: &DemoEnv, lanes: &[Lane], expected: &mut Expected, change: &Change) {
    match *change {
        Change::Priority { ticket, value } => {
            let t = &mut expected.tickets[ticket];
            let lane = &lanes[t.lane];
            env.desk(lane.pairing.internal)
                .set_priority(&t.internal_id, lane.values.internal_priorities[value]);
            t.priority = value;
            expected.priorities += 1;
        }
        Change::Status { ticket, value } => {
            let t = &mut expected.tickets[ticket];
            let lane = &lanes[t.lane];
            env.desk(lane.pairing.msp)
                .set_status(&t.msp_id, lane.values.msp_statuses[value]);
            t.status = Some(value);
            expected.statuses += 1;
        }
        Change::Note {
            ticket,
            on_internal,
            public,
        } => {
            let serial = expected.notes;
            let t = &mut expected.tickets[ticket];
            let lane = &lanes[t.lane];
            let (system, id, who) = if on_internal {
                (lane.pairing.internal, &t.internal_id, "Tina")
            } else {
                (lane.pairing.msp, &t.msp_id, "jsmith")
            };
            let token = format!(
                "w{serial}-{}-{}",
                if on_internal { "int" } else { "msp" },
                if public { "pub" } else { "priv" }
            );
            env.desk(system).add_note(
                id,
                &format!("{token} about {} ticket {}", lane.name, t.index),
                public,
                who,
            );
            t.notes.push(NoteMade {
                token,
                on_internal,
                public,
            });
            expected.notes += 1;
        }
    }
}
