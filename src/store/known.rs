//! Known tickets: the last whole ticket the bridge read (or, after an
//! update, wrote and read back) on each side of a link, so a plan can take
//! the far ticket from here instead of reading it again (issue 11).
//!
//! One record per link (tree `known_tickets`, key the link id), only for
//! linked tickets, removed on unlink. `session` is the store session
//! ([`Store::session`]) of the last plan that read everything (both tickets,
//! both note lists): only then does the store know everything the vendors
//! have, so only later plans of the same session may skip reads. A restore,
//! a crash or a restart opens a new session and the next plan reads all.
//!
//! Deliveries keep it true: an update stores the ticket the vendor kept, a
//! created ticket clears its side; every delivery write bumps `rev`, so a
//! plan that read the record before a delivery wrote it does not store its
//! possibly older view over it ([`put_after_plan`]).

use psa_connector::Ticket;
use serde::{Deserialize, Serialize};

use super::{Side, Store, StoreError, TreeName, Tx, TxError};

/// What the bridge last knew of both tickets of one link.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KnownTickets {
    /// The store session of the last plan that read everything; `None`
    /// when only deliveries wrote the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// Bumped by every write, so a change since a plan read it is seen.
    #[serde(default)]
    pub rev: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a: Option<Ticket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<Ticket>,
}

impl KnownTickets {
    pub fn side(&self, side: Side) -> Option<&Ticket> {
        match side {
            Side::A => self.a.as_ref(),
            Side::B => self.b.as_ref(),
        }
    }

    pub fn set_side(&mut self, side: Side, ticket: Option<Ticket>) {
        match side {
            Side::A => self.a = ticket,
            Side::B => self.b = ticket,
        }
    }
}

/// What a plan learned about a link's tickets, stored with the plan.
#[derive(Clone, Debug)]
pub struct KnownWrite {
    pub link: u64,
    /// The record as the plan read it before any vendor read.
    pub seen: Option<KnownTickets>,
    /// The record to store (its `rev` is set on writing).
    pub new: KnownTickets,
}

impl Store {
    /// What the bridge last knew of link `link`'s tickets.
    pub fn known(&self, link: u64) -> Result<Option<KnownTickets>, StoreError> {
        self.get(TreeName::KnownTickets, &link.to_be_bytes())
    }
}

/// Stores a plan's view inside its transaction, unless a delivery wrote the
/// record since the plan read it (before its vendor reads): then the
/// delivery's side stays, as new as anything the plan read, but the other
/// side's ticket in the record may be older than what the plan read and
/// committed to the shadow, so the record is marked incomplete (`session`
/// cleared) and the link's next plan reads everything. A record is never
/// dropped while its link lives, so it always holds at least the ticket
/// each side's last delivered update left (a carried ticket older than
/// that is not planned from: `engine::read_plan`).
pub fn put_after_plan(tx: &Tx<'_>, write: &KnownWrite) -> Result<(), TxError> {
    let key = write.link.to_be_bytes();
    let stored: Option<KnownTickets> = tx.get(TreeName::KnownTickets, &key)?;
    if stored != write.seen {
        if let Some(mut current) = stored {
            if current.session.is_some() {
                current.session = None;
                current.rev = current.rev.wrapping_add(1);
                tx.put(TreeName::KnownTickets, &key, &current)?;
            }
        }
        return Ok(());
    }
    let new = KnownTickets {
        rev: write.seen.as_ref().map_or(0, |s| s.rev).wrapping_add(1),
        ..write.new.clone()
    };
    tx.put(TreeName::KnownTickets, &key, &new)
}

/// Keeps the record true after a delivery wrote `side` of link `link`:
/// `stored` is the ticket as the vendor kept it (an update read back), or
/// `None` when the side's ticket is no longer known (created, or changed in
/// a way the bridge did not read back).
pub fn after_delivery(
    tx: &Tx<'_>,
    link: u64,
    side: Side,
    stored: Option<&Ticket>,
) -> Result<(), TxError> {
    let key = link.to_be_bytes();
    let mut known: KnownTickets = tx.get(TreeName::KnownTickets, &key)?.unwrap_or_default();
    known.set_side(side, stored.cloned());
    known.rev = known.rev.wrapping_add(1);
    tx.put(TreeName::KnownTickets, &key, &known)
}

/// Forgets link `link`'s tickets (unlinked).
pub fn remove(tx: &Tx<'_>, link: u64) -> Result<(), TxError> {
    tx.remove(TreeName::KnownTickets, &link.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A delivery that wrote the record while a plan read the vendors keeps
    /// its side, and the record no longer counts as complete: the plan's
    /// fresher view of the other side (already in the shadow) is not in
    /// it, so the link's next plan must read everything rather than trust
    /// that side's older ticket (a phantom change otherwise, written back
    /// over the person's value).
    #[test]
    fn a_plan_that_lost_the_race_to_a_delivery_leaves_the_record_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        let seen = KnownTickets {
            session: Some(store.session()),
            ..KnownTickets::default()
        };
        store
            .transact(|tx| tx.put(TreeName::KnownTickets, &7u64.to_be_bytes(), &seen))
            .unwrap();
        // A delivery bumps the record after the plan read it.
        store
            .transact(|tx| after_delivery(tx, 7, Side::B, None))
            .unwrap();
        let write = KnownWrite {
            link: 7,
            seen: Some(seen.clone()),
            new: KnownTickets {
                session: Some(store.session()),
                ..KnownTickets::default()
            },
        };
        store.transact(|tx| put_after_plan(tx, &write)).unwrap();
        let stored = store.known(7).unwrap().unwrap();
        assert_eq!(stored.session, None, "{stored:?}");
        assert!(
            stored.rev > seen.rev + 1,
            "the delivery's and the mark's writes"
        );

        // Without the race the plan's view is stored whole.
        let seen = stored;
        let write = KnownWrite {
            link: 7,
            seen: Some(seen.clone()),
            new: KnownTickets {
                session: Some(store.session()),
                ..KnownTickets::default()
            },
        };
        store.transact(|tx| put_after_plan(tx, &write)).unwrap();
        assert_eq!(
            store.known(7).unwrap().unwrap().session,
            Some(store.session())
        );
    }
}
