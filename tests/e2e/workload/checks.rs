//! Comparing the simulators with the state the workload must leave: the
//! MSP side shows each internal priority, the internal side each MSP status,
//! every public note crossed exactly once and no internal note crossed,
//! and each escalation made exactly one far ticket.

use psa_bridge::demo::DemoEnv;

use super::plan::Expected;
use super::Lane;

/// How strictly notes are counted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Notes {
    /// Every public note has crossed (duplicates not judged yet).
    Arrived,
    /// Every public note crossed exactly once, no internal note crossed.
    Exactly,
}

/// Everything that differs from the expected state, in words.
pub fn mismatches(env: &DemoEnv, lanes: &[Lane], expected: &Expected, notes: Notes) -> Vec<String> {
    let mut found = Vec::new();
    for (l, lane) in lanes.iter().enumerate() {
        let made = expected.tickets.iter().filter(|t| t.lane == l).count();
        let far = env.desk(lane.pairing.msp).ticket_count();
        if far != made {
            found.push(format!(
                "{}: {made} escalations made {far} MSP tickets",
                lane.name
            ));
        }
    }
    for t in &expected.tickets {
        let lane = &lanes[t.lane];
        let (internal, msp) = (env.desk(lane.pairing.internal), env.desk(lane.pairing.msp));
        let where_ = format!("{} ticket {}", lane.name, t.index);
        let want = lane.values.msp_priorities[t.priority];
        match msp.ticket(&t.msp_id) {
            Some(far) if far.priority == want => {}
            Some(far) => found.push(format!(
                "{where_}: MSP priority {:?}, want {want:?}",
                far.priority
            )),
            None => found.push(format!("{where_}: MSP ticket {} is gone", t.msp_id)),
        }
        if let Some(status) = t.status {
            let want = lane.values.internal_statuses[status];
            match internal.ticket(&t.internal_id) {
                Some(near) if near.status == want => {}
                Some(near) => found.push(format!(
                    "{where_}: internal status {:?}, want {want:?}",
                    near.status
                )),
                None => found.push(format!(
                    "{where_}: internal ticket {} is gone",
                    t.internal_id
                )),
            }
        }
        let (internal_notes, msp_notes) = (internal.notes(&t.internal_id), msp.notes(&t.msp_id));
        for note in &t.notes {
            let far_notes = if note.on_internal {
                &msp_notes
            } else {
                &internal_notes
            };
            let needle = format!("{} ", note.token);
            let copies = far_notes
                .iter()
                .filter(|n| n.text.contains(&needle))
                .count();
            let ok = match (note.public, notes) {
                (true, Notes::Arrived) => copies >= 1,
                (true, Notes::Exactly) => copies == 1,
                (false, Notes::Arrived) => true,
                (false, Notes::Exactly) => copies == 0,
            };
            if !ok {
                found.push(format!(
                    "{where_}: note {} ({}) is on the far side {copies} times",
                    note.token,
                    if note.public { "public" } else { "internal" }
                ));
            }
        }
    }
    found
}
