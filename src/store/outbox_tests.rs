//! The outbox indexes: the due-heads query decodes only due heads, the
//! indexes match a rebuild from the records after any sequence of writes,
//! older stores are indexed on open, and outbox trees refuse plain writes.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::store::{Action, DeadLetter};

/// Raw key/value pairs of each index tree.
type IndexSnapshot = Vec<Vec<(Vec<u8>, Vec<u8>)>>;

/// Test support: the raw contents of the index trees and the counters, to
/// compare with what [`Store::rebuild_outbox_index`] derives from the records.
impl Store {
    pub(crate) fn outbox_index_snapshot(&self) -> (IndexSnapshot, OutboxCounts) {
        let trees = [
            TreeName::OutboxQueues,
            TreeName::OutboxDue,
            TreeName::OutboxLinks,
            TreeName::OutboxDead,
        ]
        .iter()
        .map(|name| {
            self.tree(*name)
                .iter()
                .map(|kv| {
                    let (k, v) = kv.unwrap();
                    (k.to_vec(), v.to_vec())
                })
                .collect()
        })
        .collect();
        (trees, self.outbox_counts().unwrap())
    }

    /// Panics unless the indexes and counters are exactly what a rebuild
    /// from the outbox records gives.
    pub(crate) fn assert_outbox_index_consistent(&self) {
        let maintained = self.outbox_index_snapshot();
        self.rebuild_outbox_index().unwrap();
        assert_eq!(
            maintained,
            self.outbox_index_snapshot(),
            "outbox indexes drifted"
        );
    }
}

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn op(id: u64, link: u64, connection: &str, at: Timestamp, dead: bool) -> OutboxOp {
    OutboxOp {
        id,
        link,
        pairing: "p".into(),
        target: Side::B,
        connection: connection.into(),
        action: Action::UpdateTicket {
            update: Default::default(),
        },
        fields: vec!["status".into()],
        planned_at: now(),
        attempts: 0,
        next_attempt_at: at,
        last_error: None,
        dead: dead.then(|| DeadLetter {
            at: now(),
            status: Some(400),
            message: "refused".into(),
        }),
        first_failed_at: None,
        changed_at: None,
        attempt_started_at: None,
        planned_in_session: None,
    }
}

const DUE_QUEUES: [u64; 3] = [5, 42, 77];
const DEAD_QUEUE: u64 = 10;
const BUSY_QUEUE: u64 = 20;

/// 10,000 operations of connection `c` in 100 queues of 100 (link 1000 + q,
/// ids interleaved across queues, odd queues written newest first so a
/// lower id arriving later becomes the head). Only the heads of
/// [`DUE_QUEUES`] and [`BUSY_QUEUE`] are due; every other head is scheduled
/// an hour later while the operations behind it are due (they must wait);
/// [`DEAD_QUEUE`]'s head is a dead letter. One more due operation belongs to
/// connection `d`.
fn outage(store: &Store) {
    for q in 0..100u64 {
        let due_queue = DUE_QUEUES.contains(&q) || q == BUSY_QUEUE;
        let mut ops: Vec<OutboxOp> = (0..100u64)
            .map(|j| {
                let head = j == 0;
                let at = if head && !due_queue && q != DEAD_QUEUE {
                    now() + Duration::hours(1)
                } else {
                    now() - Duration::minutes(1)
                };
                op(j * 100 + q + 1, 1000 + q, "c", at, head && q == DEAD_QUEUE)
            })
            .collect();
        if q % 2 == 1 {
            ops.reverse();
        }
        store
            .transact(|tx| {
                for op in &ops {
                    tx.put_op(op)?;
                }
                Ok(())
            })
            .unwrap();
    }
    let other = op(20_000, 5000, "d", now() - Duration::minutes(1), false);
    store.transact(|tx| tx.put_op(&other)).unwrap();
}

#[test]
fn a_delivery_round_decodes_only_the_due_heads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    outage(&store);
    store.assert_outbox_index_consistent();
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 10_000,
            dead: 1
        }
    );

    // Every record but the three due heads becomes undecodable garbage: a
    // query that decodes anything else fails (as `Store::outbox`, which
    // the delivery worker used every round, now does).
    let wanted: Vec<u64> = DUE_QUEUES.iter().map(|q| q + 1).collect();
    let outbox = store.tree(TreeName::Outbox);
    for kv in outbox.iter() {
        let (key, _) = kv.unwrap();
        let id = u64::from_be_bytes(key.as_ref().try_into().unwrap());
        if !wanted.contains(&id) {
            outbox.insert(key, &b"garbage"[..]).unwrap();
        }
    }
    assert!(store.outbox().is_err());

    let busy = |link: u64, side: Side| link == 1000 + BUSY_QUEUE && side == Side::B;
    let heads = store.due_heads("c", now(), busy).unwrap();
    let ids: Vec<u64> = heads.iter().map(|op| op.id).collect();
    assert_eq!(ids, wanted);
    let links: Vec<u64> = heads.iter().map(|op| op.link).collect();
    assert_eq!(links, vec![1005, 1042, 1077]);
}

/// The planner's in-flight snapshot of one link decodes only that link's
/// operations.
#[test]
fn a_links_operations_are_read_without_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    outage(&store);
    let outbox = store.tree(TreeName::Outbox);
    for kv in outbox.iter() {
        let (key, value) = kv.unwrap();
        let op: OutboxOp = serde_json::from_slice(&value).unwrap();
        if op.link != 1042 {
            outbox.insert(key, &b"garbage"[..]).unwrap();
        }
    }
    let ops = store.outbox_for_links(&[1042]).unwrap();
    let expected: Vec<u64> = (0..100).map(|j| j * 100 + 43).collect();
    assert_eq!(ids(&ops), expected);
    assert!(store.outbox_for_links(&[4242]).unwrap().is_empty());
}

#[test]
fn the_indexes_follow_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    // A deterministic walk of inserts (out of id order), reschedules, dead
    // letters, re-queues, moves and removals over a few queues.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut live: BTreeMap<u64, OutboxOp> = BTreeMap::new();
    for step in 0..400 {
        let id = 1 + next(60);
        let conn = if next(4) == 0 { "d" } else { "c" };
        let at = now() + Duration::seconds(next(120) as i64 - 60);
        let mut new = op(id, 1 + next(3), conn, at, next(5) == 0);
        if next(2) == 0 {
            new.target = Side::A;
        }
        let remove = next(4) == 0;
        store
            .transact(|tx| {
                if remove {
                    tx.remove_op(id)?;
                } else {
                    tx.put_op(&new)?;
                }
                Ok(())
            })
            .unwrap();
        if remove {
            live.remove(&id);
        } else {
            live.insert(id, new);
        }
        if step % 20 == 0 {
            store.assert_outbox_index_consistent();
        }
        // The query agrees with the old whole-outbox rule.
        assert_eq!(
            ids(&store.due_heads("c", now(), |_, _| false).unwrap()),
            ids(&old_due_heads(live.values().cloned().collect(), "c", now()))
        );
    }
    store.assert_outbox_index_consistent();
}

fn ids(ops: &[OutboxOp]) -> Vec<u64> {
    ops.iter().map(|op| op.id).collect()
}

/// The delivery worker's rule before the indexes: decode the whole outbox,
/// take the first operation of each (link, side) queue of the connection,
/// keep those not dead and due.
fn old_due_heads(ops: Vec<OutboxOp>, connection: &str, now: Timestamp) -> Vec<OutboxOp> {
    let mut heads: BTreeMap<(u64, Side), OutboxOp> = BTreeMap::new();
    for op in ops {
        if op.connection == connection {
            heads.entry((op.link, op.target)).or_insert(op);
        }
    }
    heads
        .into_values()
        .filter(|op| op.dead.is_none() && op.next_attempt_at <= now)
        .collect()
}

#[test]
fn a_store_without_indexes_is_indexed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    {
        // What an older version left: outbox records, no indexes.
        let store = Store::open(&path).unwrap();
        for (id, link, dead) in [(3, 1, false), (4, 1, false), (5, 2, true), (6, 2, false)] {
            let record = op(id, link, "c", now(), dead);
            store
                .tree(TreeName::Outbox)
                .insert(id.to_be_bytes(), serde_json::to_vec(&record).unwrap())
                .unwrap();
        }
        store.tree(TreeName::Meta).remove(INDEXED).unwrap();
        assert!(store
            .due_heads("c", now(), |_, _| false)
            .unwrap()
            .is_empty());
        store.db.flush().unwrap();
    }
    // sled's background flusher lets go of the first handle's file lock a
    // moment after the drop: wait for the lock, not for a fixed time.
    let store = reopen(&path);
    assert_eq!(
        ids(&store.due_heads("c", now(), |_, _| false).unwrap()),
        vec![3]
    );
    assert_eq!(store.outbox_ids_for_link(2).unwrap(), vec![5, 6]);
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 3,
            dead: 1
        }
    );
    store.assert_outbox_index_consistent();
}

#[test]
fn outbox_trees_refuse_plain_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    let record = op(1, 1, "c", now(), false);
    for name in [
        TreeName::Outbox,
        TreeName::OutboxQueues,
        TreeName::OutboxDue,
        TreeName::OutboxLinks,
    ] {
        assert!(store
            .transact(|tx| tx.put(name, &1u64.to_be_bytes(), &record))
            .is_err());
        assert!(store
            .transact(|tx| tx.remove(name, &1u64.to_be_bytes()))
            .is_err());
    }
}

/// Not a test: one delivery round's due-heads query with 10,000 pending
/// operations, the old whole-outbox decode against the due index.
/// `cargo test --release --lib due_heads_figure -- --ignored --nocapture`
#[test]
#[ignore]
fn due_heads_figure() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    outage(&store);
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        let heads = old_due_heads(store.outbox().unwrap(), "c", now());
        assert_eq!(heads.len(), 4);
    }
    let before = started.elapsed() / rounds;
    let started = Instant::now();
    for _ in 0..rounds {
        let heads = store.due_heads("c", now(), |_, _| false).unwrap();
        assert_eq!(heads.len(), 4);
    }
    let after = started.elapsed() / rounds;
    println!("due heads of 10,001 pending operations: whole outbox {before:?}, due index {after:?} per round");
}

use crate::store::reopen::reopen;

/// Outbox transactions share no counter record: counts come from tree
/// lengths, so the `meta` tree is not written by `put_op` / `remove_op`.
#[test]
fn outbox_writes_touch_no_shared_counter_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    let meta_before: Vec<_> = store.tree(TreeName::Meta).iter().collect();
    store
        .transact(|tx| {
            tx.put_op(&op(1, 1, "c", now(), false))?;
            tx.put_op(&op(2, 2, "c", now(), true))?;
            tx.put_op(&op(3, 2, "c", now(), false))
        })
        .unwrap();
    store.transact(|tx| tx.remove_op(3).map(|_| ())).unwrap();
    store
        .transact(|tx| tx.put_op(&op(1, 1, "c", now(), true)))
        .unwrap();
    let meta_after: Vec<_> = store.tree(TreeName::Meta).iter().collect();
    assert_eq!(meta_before, meta_after, "an outbox write changed `meta`");
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 0,
            dead: 2
        }
    );
    store.assert_outbox_index_consistent();
}

/// An unreadable outbox record is left out of the indexes by the one
/// rebuild that finds it; later starts do not rebuild again because of it.
#[test]
fn an_unreadable_record_does_not_rebuild_the_index_on_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    {
        let store = Store::open(&path).unwrap();
        store
            .transact(|tx| tx.put_op(&op(1, 1, "c", now(), false)))
            .unwrap();
        store
            .tree(TreeName::Outbox)
            .insert(9u64.to_be_bytes(), &b"{not json"[..])
            .unwrap();
        store.tree(TreeName::Meta).remove(INDEXED).unwrap();
        store.db.flush().unwrap();
    }
    let store = reopen(&path);
    assert_eq!(
        store.outbox_ids_for_link(1).unwrap(),
        vec![1],
        "indexed once"
    );
    assert!(
        !store.ensure_outbox_index().unwrap(),
        "rebuilt again because of the unreadable record"
    );
    assert_eq!(
        store.outbox_counts().unwrap().pending,
        2,
        "counted, not hidden"
    );
}

/// The counts come from the index trees: an outbox record the indexes do
/// not know (written around them here) is not counted, because counting
/// never walks the outbox records (at 100,000 queued that paged the whole
/// outbox through sled's cache on every `/metrics` scrape).
#[test]
fn counting_reads_the_indexes_not_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    store
        .transact(|tx| {
            tx.put_op(&op(1, 1, "c", now(), false))?;
            tx.put_op(&op(2, 1, "c", now(), false))?;
            tx.put_op(&op(3, 2, "c", now(), true))
        })
        .unwrap();
    let around = serde_json::to_vec(&op(9, 3, "c", now(), false)).unwrap();
    store
        .tree(TreeName::Outbox)
        .insert(9u64.to_be_bytes(), around)
        .unwrap();
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 2,
            dead: 1
        }
    );
}
