//! The "attempt started" mark of note mirrors, so a first attempt skips
//! the marker look-up that only a repeated attempt needs.
//!
//! Before the vendor call of a note mirror planned in this run of the
//! store (`OutboxOp::planned_in_session`), the operation records, in its
//! outbox record, that an attempt is starting
//! (`OutboxOp::attempt_started_at`). The mark is not flushed before the
//! call: it is read only by this opening of the store, which sees it
//! whether or not it reached the disk; after a crash the store opens with
//! a new session, so every operation of the earlier run looks first
//! anyway (`fresh_mirror`), mark or no mark. Only an operation that carries the
//! mark can have reached the vendor before: a lost answer (timeout, reset,
//! 503 after the write), a crash or a shutdown in the middle of the call.
//! So its first attempt posts at once, and every later one (a retry in
//! place, a scheduled retry, a restart with the mark set) looks for the
//! bridge's marker first, exactly as before (`apply::apply_with`).
//! Creates, write-back and event notes, and every operation planned before
//! this run (a restored backup's queue, an earlier process) always look
//! first: a restored store plans them again without knowing they were
//! written. Should the mark not be written, the attempt looks first too:
//! never a saving at the cost of a duplicate.

use crate::engine::Engine;
use crate::store::{Action, OutboxOp, TreeName};

/// Whether `op` is a create or a note post: the actions whose repetition
/// is guarded by a marker look-up.
fn guarded(op: &OutboxOp) -> bool {
    matches!(
        op.action,
        Action::CreateTicket { .. } | Action::AddComment { .. }
    )
}

/// Whether `op` is a note mirror planned in this run of the store by a plan
/// that read the target side's notes (`engine::commit` sets the session
/// only then): a mirror the bridge posted earlier (even one a restored
/// store forgot) was recognised there (`mirror_recovered`) and no such
/// operation planned. Mirrors planned with an escalation (the far ticket
/// not read yet), creates, write-back and event notes are planned again
/// after a restore without that check, and an operation from an earlier
/// run may have been posted already.
fn fresh_mirror(engine: &Engine, op: &OutboxOp) -> bool {
    matches!(
        op.action,
        Action::AddComment {
            source: Some(_),
            ..
        }
    ) && op.planned_in_session == Some(engine.store.session())
}

/// Called before the vendor call of `op`. Returns the operation as it is
/// stored now (with the mark, so recording the outcome matches the stored
/// record) and whether the call must look for its marker first; `None`
/// when the record changed meanwhile (re-queued, removed): the call is
/// skipped and a later round takes the operation as it is now.
pub(super) async fn begin(engine: &Engine, op: OutboxOp) -> Option<(OutboxOp, bool)> {
    if !guarded(&op) {
        return Some((op, false));
    }
    if op.attempt_started_at.is_some() || !fresh_mirror(engine, &op) {
        // An earlier attempt started (its outcome may be unknown), or the
        // operation may have been written before this run: a create
        // planned again after a restore, a write-back or event note, an
        // operation from a restored backup or an earlier run.
        return Some((op, true));
    }
    let mut marked = op.clone();
    marked.attempt_started_at = Some(engine.clock.now());
    let key = op.id.to_be_bytes();
    let written = engine.store.transact(|tx| {
        let stored: Option<OutboxOp> = tx.get(TreeName::Outbox, &key)?;
        if stored.as_ref() != Some(&op) {
            return Ok(false);
        }
        tx.put_op(&marked)?;
        Ok(true)
    });
    match written {
        // Not flushed: see the module doc (a later flush takes it along).
        Ok(true) => Some((marked, false)),
        Ok(false) => {
            tracing::debug!("operation changed before its attempt; left for a later round");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the attempt mark; looking for the marker first");
            Some((op, true))
        }
    }
}

/// The stored version of `op` when it differs from `op` only by the
/// attempt mark [`begin`] wrote (a delivery task that failed after it), so
/// the failure is recorded against the stored record; else `op`.
pub(super) fn as_stored(engine: &Engine, op: &OutboxOp) -> OutboxOp {
    match engine.store.outbox_op(op.id) {
        Ok(Some(stored))
            if OutboxOp {
                attempt_started_at: stored.attempt_started_at,
                ..op.clone()
            } == stored =>
        {
            stored
        }
        _ => op.clone(),
    }
}
