//! Which tickets have a notice waiting in the inbox, without scanning the
//! whole inbox for every plan (`super::read_plan::notice_pending` asks once
//! per far ticket; a burst of webhooks would make that quadratic).
//!
//! Inbox keys are ids in arrival order. Each look-up first indexes the
//! notices that arrived since: it scans from the newest key seen at least
//! [`LAG`] ago (by the engine's clock), so a notice committed a little after
//! a later id (ids are drawn before the transaction commits) is still
//! found; notices already indexed are not decoded again. A ticket's indexed keys are
//! checked against the inbox at each look-up (planned notices are gone), and
//! entries of tickets nobody asks about are pruned when the index grows.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use psa_connector::Timestamp;
use serde::Deserialize;

use crate::store::{Store, StoreError, TreeName};

/// Index of the inbox by ticket, refreshed on each look-up.
#[derive(Default)]
pub struct PendingIndex(Mutex<State>);

#[derive(Default)]
struct State {
    /// The next refresh scans keys from here.
    scan_from: Vec<u8>,
    /// The newest key each refresh saw, and when, oldest first.
    checkpoints: VecDeque<(Timestamp, Vec<u8>)>,
    /// Keys at or after `scan_from` already indexed.
    recent: HashSet<Vec<u8>>,
    by_ticket: HashMap<(String, String), Vec<Vec<u8>>>,
}

/// The two fields of an inbox record the index needs.
#[derive(Deserialize)]
struct Head {
    connection: String,
    ticket_id: String,
}

/// Above this many tickets the index drops those without a waiting notice.
const PRUNE_ABOVE: usize = 10_000;

/// How long after a key was the newest the index still scans from it: far
/// longer than an id is drawn before its transaction commits.
pub const LAG: chrono::Duration = chrono::Duration::seconds(5);

impl PendingIndex {
    /// Whether a notice for `ticket_id` of `connection` is in the inbox.
    pub fn inbox_has(
        &self,
        store: &Store,
        now: Timestamp,
        connection: &str,
        ticket_id: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let inbox = store.tree(TreeName::Inbox);
        state.refresh(inbox, now)?;
        let key = (connection.to_string(), ticket_id.to_string());
        let Some(keys) = state.by_ticket.get_mut(&key) else {
            return Ok(false);
        };
        let mut live = Vec::with_capacity(keys.len());
        for k in keys.drain(..) {
            if inbox.contains_key(&k)? {
                live.push(k);
            }
        }
        let waiting = !live.is_empty();
        if waiting {
            *keys = live;
        } else {
            state.by_ticket.remove(&key);
        }
        Ok(waiting)
    }
}

impl State {
    fn refresh(&mut self, inbox: &sled::Tree, now: Timestamp) -> Result<(), StoreError> {
        let mut seen = HashSet::new();
        let mut max = self.scan_from.clone();
        for entry in inbox.range(self.scan_from.clone()..) {
            let (key, value) = entry?;
            let key = key.to_vec();
            if !self.recent.contains(&key) {
                let head: Head = crate::store::decode(TreeName::Inbox, &key, &value)?;
                self.by_ticket
                    .entry((head.connection, head.ticket_id))
                    .or_default()
                    .push(key.clone());
            }
            if key > max {
                max.clone_from(&key);
            }
            seen.insert(key);
        }
        self.checkpoints.push_back((now, max));
        // Scan next from the newest key that was newest LAG ago or earlier.
        while self
            .checkpoints
            .get(1)
            .is_some_and(|(at, _)| *at <= now - LAG)
        {
            self.checkpoints.pop_front();
        }
        if let Some((at, key)) = self.checkpoints.front() {
            if *at <= now - LAG {
                self.scan_from.clone_from(key);
            }
        }
        let scan_from = &self.scan_from;
        seen.retain(|k| k >= scan_from);
        self.recent = seen;
        if self.by_ticket.len() > PRUNE_ABOVE {
            self.by_ticket
                .retain(|_, keys| keys.iter().any(|k| inbox.contains_key(k).unwrap_or(true)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{InboxItem, IntakeSource};

    fn item(id: u64, conn: &str, ticket: &str) -> InboxItem {
        InboxItem {
            id,
            connection: conn.into(),
            ticket_id: ticket.into(),
            source: IntakeSource::Webhook,
            dedup_key: format!("d{id}"),
            received_at: chrono::Utc::now(),
            updated_at: None,
            attempts: 0,
            next_attempt_at: None,
            detail: Default::default(),
        }
    }

    fn put(store: &Store, i: &InboxItem) {
        store
            .transact(|tx| tx.put(TreeName::Inbox, &i.id.to_be_bytes(), i))
            .unwrap();
    }

    #[test]
    fn waiting_notices_are_found_late_commits_too_and_planned_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        let index = PendingIndex::default();
        let start = chrono::Utc::now();
        let now = std::cell::Cell::new(start);
        let has = |c: &str, t: &str| index.inbox_has(&store, now.get(), c, t).unwrap();
        assert!(!has("cw", "200"));
        put(&store, &item(10, "cw", "200"));
        put(&store, &item(12, "at", "100"));
        assert!(has("cw", "200"));
        assert!(!has("cw", "100"), "same id, other connection");
        // Many look-ups later, but within LAG: id 11, drawn before 12, is
        // committed after the look-ups.
        for _ in 0..5 {
            assert!(!has("cw", "300"));
        }
        put(&store, &item(11, "cw", "300"));
        put(&store, &item(13, "cw", "400"));
        assert!(has("cw", "300"), "a late commit below the newest key");
        assert!(has("cw", "400"));
        // Long after, the scan starts at the newest key of LAG ago.
        now.set(start + LAG * 3);
        assert!(!has("cw", "500"));
        now.set(start + LAG * 5);
        put(&store, &item(30, "cw", "500"));
        assert!(has("cw", "500"));
        // Planned: removed from the inbox.
        store
            .transact(|tx| tx.remove(TreeName::Inbox, &10u64.to_be_bytes()))
            .unwrap();
        assert!(!has("cw", "200"));
        put(&store, &item(20, "cw", "200"));
        assert!(has("cw", "200"), "a new notice for it");
    }
}
