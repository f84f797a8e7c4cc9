//! What the model-based test expects: the people's actions it performed
//! (ticket edits, notes), and the checks of the vendors' state and of the
//! bridge's writes against them. Invariants hold after every step; the
//! final checks after every fault is healed and the outbox drained.

use psa_connector::Ticket;

use super::vendor::{Effect, Vendor};
use crate::store::Side;

/// Status labels (a, b): only people on b change the status.
pub const STATUSES: [(&str, &str); 3] = [
    ("New", "New"),
    ("In Progress", "Working"),
    ("Waiting", "Waiting Customer"),
];
/// Priority labels (a, b): only people on a change the priority.
pub const PRIORITIES: [(&str, &str); 3] = [("High", "P1"), ("Medium", "P2"), ("Low", "P3")];
/// The write-back note's text before the number.
pub const WRITE_BACK: &str = "Escalated as";

/// A note a person wrote.
#[derive(Clone, Debug)]
pub struct Note {
    /// `[[n{seq}]]`, unique; `seq` grows with every note written.
    pub token: String,
    pub seq: usize,
    pub side: Side,
    pub ticket: usize,
    pub public: bool,
}

/// The people's side of the story, per a-side ticket index.
#[derive(Debug, Default)]
pub struct Model {
    /// The a-side tickets' ids (titles are `A{index}`).
    pub a_ids: Vec<String>,
    /// Whether a change of the ticket was taken in (it then escalates).
    pub escalated: Vec<bool>,
    /// Every priority the a ticket had (a labels), in order.
    pub a_priority: Vec<Vec<String>>,
    /// Every status people gave the b ticket (b labels), after "New".
    pub b_status: Vec<Vec<String>>,
    pub notes: Vec<Note>,
}

pub fn title(index: usize) -> String {
    format!("A{index}")
}

fn map(pairs: &[(&str, &str)], from: Side, label: &str) -> String {
    pairs
        .iter()
        .find(|(a, b)| {
            if from == Side::A {
                *a == label
            } else {
                *b == label
            }
        })
        .map(|(a, b)| if from == Side::A { *b } else { *a })
        .unwrap_or("?")
        .to_string()
}

/// `xs` without consecutive repeats.
fn dedup(xs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in xs {
        if out.last() != Some(x) {
            out.push(x.clone());
        }
    }
    out
}

fn is_subsequence(small: &[String], big: &[String]) -> bool {
    let mut it = big.iter();
    small.iter().all(|x| it.any(|y| y == x))
}

impl Model {
    pub fn new(a_ids: Vec<String>) -> Self {
        let n = a_ids.len();
        Model {
            a_ids,
            escalated: vec![false; n],
            a_priority: vec![vec!["Low".to_string()]; n],
            b_status: vec![vec!["New".to_string()]; n],
            notes: Vec::new(),
        }
    }

    /// The b tickets created for a ticket `index` (by title).
    pub fn b_tickets(&self, b: &Vendor, index: usize) -> Vec<Ticket> {
        b.tickets()
            .into_iter()
            .filter(|t| t.title == title(index))
            .collect()
    }

    pub fn new_note(&mut self, side: Side, ticket: usize, public: bool) -> Note {
        let seq = self.notes.len();
        let note = Note {
            token: format!("[[n{seq}]]"),
            seq,
            side,
            ticket,
            public,
        };
        self.notes.push(note.clone());
        note
    }

    /// Must hold after every step.
    pub fn check_invariants(&self, a: &Vendor, b: &Vendor) -> Result<(), String> {
        for index in 0..self.a_ids.len() {
            let created = self.b_tickets(b, index);
            if created.len() > 1 {
                return Err(format!(
                    "ticket {index} was created {} times on b",
                    created.len()
                ));
            }
            if !self.escalated[index] && !created.is_empty() {
                return Err(format!("ticket {index} was created on b before any intake"));
            }
            let ids = [
                Some(self.a_ids[index].clone()),
                created.first().map(|t| t.id.clone()),
            ];
            for (side, vendor, id) in [(Side::A, a, &ids[0]), (Side::B, b, &ids[1])] {
                let Some(id) = id else { continue };
                let notes = vendor.notes(id);
                let write_backs = notes
                    .iter()
                    .filter(|n| n.body.starts_with(WRITE_BACK))
                    .count();
                if write_backs > usize::from(side == Side::A) {
                    return Err(format!(
                        "{write_backs} write-back notes on {side:?} ticket {id}"
                    ));
                }
                // FIFO per ticket: mirrors arrive in the order their sources were written.
                let seqs: Vec<usize> = notes
                    .iter()
                    .filter_map(|c| self.notes.iter().find(|n| c.body.contains(&n.token)))
                    .filter(|n| n.side != side)
                    .map(|n| n.seq)
                    .collect();
                if seqs.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!(
                        "mirrors on {side:?} ticket {id} out of order (or repeated): {seqs:?}"
                    ));
                }
            }
        }
        for note in &self.notes {
            let (own, far) = match note.side {
                Side::A => (a, b),
                Side::B => (b, a),
            };
            let count = |v: &Vendor| {
                v.tickets()
                    .iter()
                    .flat_map(|t| v.notes(&t.id))
                    .filter(|c| c.body.contains(&note.token))
                    .count()
            };
            if count(own) != 1 {
                return Err(format!(
                    "note {} appears {} times on its own side (echoed back?)",
                    note.token,
                    count(own)
                ));
            }
            let mirrored = count(far);
            if mirrored > usize::from(note.public) {
                return Err(format!(
                    "note {} (public: {}) appears {mirrored} times on the far side",
                    note.token, note.public
                ));
            }
        }
        self.check_writes(a, b, false)
    }

    /// The bridge's writes: priority only to b, status only to a, each a
    /// subsequence (in order, no stale value replayed) of what people did;
    /// when `settled`, the last write is the current value.
    fn check_writes(&self, a: &Vendor, b: &Vendor, settled: bool) -> Result<(), String> {
        let (a_effects, b_effects) = (a.effects(), b.effects());
        for e in &a_effects {
            match e {
                Effect::Created { ticket, .. } => {
                    return Err(format!("bridge created {ticket} on a"))
                }
                Effect::Updated { update, .. }
                    if update.priority.is_some() || update.title.is_some() =>
                {
                    return Err(format!("bridge wrote priority or title to a: {update:?}"))
                }
                _ => {}
            }
        }
        for e in &b_effects {
            if let Effect::Updated { update, .. } = e {
                if update.status.is_some() || update.title.is_some() {
                    return Err(format!("bridge wrote status or title to b: {update:?}"));
                }
            }
        }
        for index in 0..self.a_ids.len() {
            let Some(bt) = self.b_tickets(b, index).pop() else {
                continue;
            };
            let mut priorities = Vec::new();
            for e in &b_effects {
                match e {
                    Effect::Created {
                        ticket, priority, ..
                    } if *ticket == bt.id => {
                        priorities.extend(priority.clone());
                    }
                    Effect::Updated { ticket, update } if *ticket == bt.id => {
                        if let Some(p) = &update.priority {
                            priorities.push(p.clone());
                        }
                    }
                    _ => {}
                }
            }
            let written = dedup(&priorities);
            let history: Vec<String> = self.a_priority[index]
                .iter()
                .map(|p| map(&PRIORITIES, Side::A, p))
                .collect();
            if !is_subsequence(&written, &dedup(&history)) {
                return Err(format!("priorities written to b ticket {}: {written:?}, not in the order of a's {history:?}", bt.id));
            }
            let aid = &self.a_ids[index];
            let statuses: Vec<String> = a_effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Updated { ticket, update } if ticket == aid => update.status.clone(),
                    _ => None,
                })
                .collect();
            let history: Vec<String> = self.b_status[index]
                .iter()
                .map(|s| map(&STATUSES, Side::B, s))
                .collect();
            if !is_subsequence(&dedup(&statuses), &dedup(&history)) {
                return Err(format!("statuses written to a ticket {aid}: {statuses:?}, not in the order of b's {history:?}"));
            }
            if settled {
                let (at, btn) = (a.ticket(aid), b.ticket(&bt.id));
                let (Some(at), Some(btn)) = (at, btn) else {
                    return Err("ticket vanished".into());
                };
                if btn.priority != map(&PRIORITIES, Side::A, &at.priority) {
                    return Err(format!(
                        "priority not converged: a {} b {}",
                        at.priority, btn.priority
                    ));
                }
                if at.status != map(&STATUSES, Side::B, &btn.status) {
                    return Err(format!(
                        "status not converged: a {} b {}",
                        at.status, btn.status
                    ));
                }
            }
        }
        Ok(())
    }

    /// After every fault is healed, every dead letter retried and the
    /// outbox drained: nothing acknowledged was lost.
    pub fn check_final(&self, a: &Vendor, b: &Vendor) -> Result<(), String> {
        self.check_invariants(a, b)?;
        for index in 0..self.a_ids.len() {
            let created = self.b_tickets(b, index);
            if self.escalated[index] != (created.len() == 1) {
                return Err(format!(
                    "ticket {index}: escalated {} but {} b tickets",
                    self.escalated[index],
                    created.len()
                ));
            }
            if self.escalated[index] {
                let write_backs = a
                    .notes(&self.a_ids[index])
                    .iter()
                    .filter(|n| n.body.starts_with(WRITE_BACK))
                    .count();
                if write_backs != 1 {
                    return Err(format!("ticket {index}: {write_backs} write-back notes"));
                }
            }
        }
        for note in &self.notes {
            let far = match note.side {
                Side::A => b,
                Side::B => a,
            };
            let linked = self.escalated[note.ticket];
            let mirrored = far
                .tickets()
                .iter()
                .flat_map(|t| far.notes(&t.id))
                .filter(|c| c.body.contains(&note.token))
                .count();
            if mirrored != usize::from(note.public && linked) {
                return Err(format!(
                    "note {} (public: {}) mirrored {mirrored} times",
                    note.token, note.public
                ));
            }
        }
        self.check_writes(a, b, true)
    }
}
