//! Paused pairings in a delivery round: a queue whose head belongs to a
//! paused pairing is not started (no attempt counted, no retry schedule
//! used, nothing dead-lettered from waiting); everything else of the
//! connection, other pairings' queues included, goes on. The paused set is
//! read from the store every round (it is small and survives restarts and
//! reloads there), and the links of paused heads already seen are
//! remembered so their heads are skipped without being decoded again.

use std::collections::{HashMap, HashSet};

use crate::store::{OutboxOp, Store};

/// One worker's view of the paused pairings.
#[derive(Debug, Default)]
pub(super) struct Hold {
    paused: HashSet<String>,
    /// Link → pairing of heads held back so far (a link's pairing never changes).
    links: HashMap<u64, String>,
}

impl Hold {
    /// Reads which pairings are paused now; forgets the links it remembered
    /// when none is.
    pub(super) fn refresh(&mut self, store: &Store) {
        match store.paused_pairing_names() {
            Ok(names) => self.paused = names.into_iter().collect(),
            // Unreadable: keep the last known set rather than deliver a
            // paused pairing's operations by mistake.
            Err(e) => tracing::error!(error = %e, "cannot read the paused pairings"),
        }
        if self.paused.is_empty() {
            self.links.clear();
        }
    }

    /// Whether the queues of `link` are known to belong to a paused pairing.
    pub(super) fn skips(&self, link: u64) -> bool {
        self.links
            .get(&link)
            .is_some_and(|pairing| self.paused.contains(pairing))
    }

    /// Whether `op` belongs to a paused pairing (then its link is remembered).
    pub(super) fn holds(&mut self, op: &OutboxOp) -> bool {
        if !self.paused.contains(&op.pairing) {
            return false;
        }
        tracing::trace!(pairing = %op.pairing, link = op.link, op = op.id, "pairing paused: operation held");
        self.links.insert(op.link, op.pairing.clone());
        true
    }
}
