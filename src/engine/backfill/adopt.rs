//! Adopting a far ticket the bridge created earlier whose link was lost
//! (see [`super`]), in one transaction. Links made by this version carry a
//! ticket marker derived from the source ticket alone
//! ([`crate::store::ticket_marker_for`]): the far ticket is looked up by it,
//! linked under a new id with that marker, and the planner pairs the notes
//! that crossed by their mirror markers (`mirror_recovered`). Links made by
//! older versions carry `psa-bridge:<pairing>:<link id>`: found through the
//! marker of the bridge's write-back note, linked under the marker's link id
//! with the comment map rebuilt from the notes' markers.

use psa_connector::{ConnectorError, Ticket};
use serde_json::json;

use super::super::{observe, Connection, Engine};
use crate::config::LoadedPairing;
use crate::retry::read_in_place;
use crate::store::{
    comment_key, link_key, ticket_marker_for, AuditRecord, CommentEntry, Link, Side, StoreError,
    TicketRef, TreeName,
};

/// How far a marker's link id may lie beyond this store's id counter (a
/// store restored from an old backup is behind by what was written since).
const MAX_ID_GAP: u64 = 1 << 24;

/// A far ticket the bridge created earlier for a ticket whose link was lost.
#[derive(Debug)]
pub(super) struct Earlier {
    pub far_ticket: Ticket,
    /// The link id of an older version's marker (`psa-bridge:<pairing>:<id>`);
    /// `None` for a marker derived from the source ticket.
    pub legacy_link: Option<u64>,
}

impl Engine {
    /// The far ticket the bridge created for `ticket` (on `side`) earlier:
    /// by the marker derived from `ticket`, else (an older version's link)
    /// by the marker of the write-back note it posted on `ticket`.
    pub(super) async fn earlier_far_ticket(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        (near, far): (&Connection, &Connection),
        ticket: &Ticket,
    ) -> Result<Option<Earlier>, ConnectorError> {
        let marker = ticket_marker_for(&pairing.name, side, &ticket.id);
        if let Some(found) = read_in_place(|| far.connector.find_by_marker(&marker)).await? {
            if psa_connector::marker::ticket_marker(found.marker.as_deref()).as_deref()
                == Some(marker.as_str())
            {
                return Ok(Some(Earlier {
                    far_ticket: found,
                    legacy_link: None,
                }));
            }
        }
        let comments = read_in_place(|| near.connector.list_comments(&ticket.id)).await?;
        let prefix = format!(
            "{}{}:",
            psa_connector::marker::TICKET_MARKER_PREFIX,
            pairing.name
        );
        for comment in comments {
            let Some(link_id) = comment
                .marker
                .as_deref()
                .and_then(|m| m.strip_prefix(&prefix))
                .and_then(|m| m.strip_suffix(":writeback"))
                .and_then(|id| id.parse::<u64>().ok())
            else {
                continue;
            };
            let marker = format!("{prefix}{link_id}");
            if let Some(found) = read_in_place(|| far.connector.find_by_marker(&marker)).await? {
                if psa_connector::marker::ticket_marker(found.marker.as_deref()).as_deref()
                    == Some(marker.as_str())
                {
                    return Ok(Some(Earlier {
                        far_ticket: found,
                        legacy_link: Some(link_id),
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The comment-map entries of the notes that crossed while link
    /// `link_id` existed, rebuilt from the markers the bridge wrote: a note
    /// carrying `P:<link>:...` is the bridge's own on its side, and one
    /// carrying `P:<link>:<side>:<note id>` is the mirror of that note (so
    /// neither is mirrored again once the pair is adopted).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn crossed_notes(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        near: &Connection,
        far: &Connection,
        ticket: &Ticket,
        far_ticket: &Ticket,
        link_id: u64,
    ) -> Result<Vec<(Side, String, CommentEntry)>, ConnectorError> {
        let prefix = format!("{}:{link_id}:", pairing.name);
        let mut entries = Vec::new();
        for (here, conn, id) in [
            (side, near, &ticket.id),
            (side.other(), far, &far_ticket.id),
        ] {
            for note in read_in_place(|| conn.connector.list_comments(id)).await? {
                let Some(rest) = note.marker.as_deref().and_then(|m| m.strip_prefix(&prefix))
                else {
                    continue;
                };
                entries.push((here, note.id.clone(), CommentEntry::Bridge));
                if let Some((from, source_id)) = rest.split_once(':') {
                    if from == here.other().as_str() {
                        entries.push((
                            here.other(),
                            source_id.to_string(),
                            CommentEntry::Mirrored {
                                op: 0,
                                target_id: Some(note.id.clone()),
                                visibility: Some(note.visibility),
                            },
                        ));
                    }
                }
            }
        }
        Ok(entries)
    }

    /// Why `far_ticket` (marker of link `link_id`) cannot be adopted: it, or
    /// the link id, belongs to another link already.
    pub(super) fn adoption_refused(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        far: &Connection,
        far_ticket: &Ticket,
        legacy_link: Option<u64>,
    ) -> Result<Option<String>, StoreError> {
        if let Some(other) = self
            .store
            .link_for(&pairing.name, side.other(), &far_ticket.id)?
        {
            return Ok(Some(format!(
                "{} ticket {} carrying the bridge's marker {} is linked to another ticket already (link {})",
                far.name,
                far_ticket.number,
                far_ticket.marker.as_deref().unwrap_or_default(),
                other.id
            )));
        }
        if let Some(link_id) = legacy_link {
            if self.store.link(link_id)?.is_some() {
                return Ok(Some(format!(
                    "link id {link_id} of the far ticket's marker is in use by another link"
                )));
            }
        }
        Ok(None)
    }

    /// Links `ticket` to the earlier far ticket and queues a notice so the
    /// planner reconciles the pair; the new link's id. `StoreError::Aborted`
    /// says why it was refused.
    pub(super) async fn adopt(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        (near, far): (&Connection, &Connection),
        ticket: &Ticket,
        earlier: &Earlier,
        notes: &[(Side, String, CommentEntry)],
    ) -> Result<u64, StoreError> {
        let far_ticket = &earlier.far_ticket;
        let link_id = match earlier.legacy_link {
            Some(link_id) => {
                self.reserve_id(link_id)?;
                link_id
            }
            None => self.store.next_id()?,
        };
        let now = self.clock.now();
        // The shadow an adopted create gets: this side as it is, the far
        // side as found (so nothing is taken for an edit), then planned.
        let mut shadow = self
            .plan_escalation(pairing, side, &near.name, ticket, link_id)
            .shadow;
        *shadow.side_mut(side.other()) = observe(&pairing.mapping, side.other(), far_ticket);
        let mut link = Link {
            id: link_id,
            pairing: pairing.name.clone(),
            a: None,
            b: None,
            origin: side,
            created_at: now,
            // An older version's link keeps its link-id marker (`None`).
            marker: earlier
                .legacy_link
                .is_none()
                .then(|| ticket_marker_for(&pairing.name, side, &ticket.id)),
        };
        link.set_side(
            side,
            TicketRef {
                id: ticket.id.clone(),
                number: ticket.number.clone(),
            },
        );
        link.set_side(
            side.other(),
            TicketRef {
                id: far_ticket.id.clone(),
                number: far_ticket.number.clone(),
            },
        );
        let item = self.backfill_notice(&near.name, ticket)?;
        let tickets = self.link_keys(&link);
        let message = format!(
            "backfill: {} ticket {} met {} before the bridge saw it; linked to {} ticket {} \
             that the bridge created earlier (found by its marker {})",
            near.name,
            ticket.number,
            pairing.mapping.trigger.describe(),
            far.name,
            far_ticket.number,
            link.marker()
        );
        self.store.transact(|tx| {
            let near_key = link_key(&pairing.name, side, &ticket.id);
            let far_key = link_key(&pairing.name, side.other(), &far_ticket.id);
            if tx.get::<u64>(TreeName::LinkIndex, &near_key)?.is_some() {
                return Err(StoreError::Aborted("linked meanwhile (by the planner)".into()).into());
            }
            if let Some(other) = tx.get::<u64>(TreeName::LinkIndex, &far_key)? {
                return Err(StoreError::Aborted(format!(
                    "{} ticket {} (marker {}) is linked to another ticket already (link {other})",
                    far.name,
                    far_ticket.number,
                    link.marker()
                ))
                .into());
            }
            if tx
                .get::<Link>(TreeName::Links, &link_id.to_be_bytes())?
                .is_some()
            {
                return Err(StoreError::Aborted(format!(
                    "link id {link_id} of the far ticket's marker is in use by another link"
                ))
                .into());
            }
            tx.put(TreeName::Links, &link_id.to_be_bytes(), &link)?;
            tx.put(TreeName::LinkIndex, &near_key, &link_id)?;
            tx.put(TreeName::LinkIndex, &far_key, &link_id)?;
            tx.put(TreeName::Shadows, &link_id.to_be_bytes(), &shadow)?;
            for (note_side, note_id, entry) in notes {
                tx.put(
                    TreeName::Comments,
                    &comment_key(link_id, *note_side, note_id),
                    entry,
                )?;
            }
            self.put_notice(tx, &item)?;
            tx.audit(
                now,
                AuditRecord {
                    kind: "backfill_linked",
                    pairing: Some(&pairing.name),
                    link: Some(link_id),
                    tickets: tickets.clone(),
                    message: message.clone(),
                    detail: json!({ "marker": link.marker() }),
                },
            )
        })?;
        self.store.flush().await?;
        self.inbox_ready.notify_waiters();
        Ok(link_id)
    }

    /// Moves the store's id counter past `id` (a link id taken from a
    /// marker), so no later record gets it.
    fn reserve_id(&self, id: u64) -> Result<(), StoreError> {
        let first = self.store.next_id()?;
        if first > id {
            return Ok(());
        }
        if id - first > MAX_ID_GAP {
            return Err(StoreError::Aborted(format!(
                "the far ticket's marker names link {id}, far beyond this store's ids ({first}); not adopted"
            )));
        }
        while self.store.next_id()? <= id {}
        Ok(())
    }
}
