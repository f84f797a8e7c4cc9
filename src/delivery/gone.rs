//! A delivery to a linked ticket answered "not found": the ticket was
//! deleted (or merged away) on that side since a plan last read it. Plans
//! take the far ticket from what the bridge last knew (`engine::read_plan`),
//! so a delivery may be the first to meet the deletion. As planning does,
//! the link is removed (audited `unlinked`, its queued operations with it)
//! instead of the operation becoming a dead letter that blocks the ticket.
//!
//! The answer is confirmed first with a read of the ticket itself: a 404
//! from anything else (a note endpoint, a ticket that is back) never
//! unlinks, and the operation fails as before. Creates have no linked
//! ticket and are left alone. If the daemon stops between the read and the
//! unlinking, the operation is still queued: the next attempt meets the
//! same 404 and gets here again.

use psa_connector::{Connector, ConnectorError};

use crate::engine::Engine;
use crate::retry::read_in_place;
use crate::store::{Action, OutboxOp, StoreError};

impl Engine {
    /// Whether `error`, the answer to delivering `op`, meant that the
    /// linked ticket `op` writes to is gone; if so the link has been removed.
    pub(super) async fn unlink_if_target_gone(
        &self,
        connector: &dyn Connector,
        op: &OutboxOp,
        error: &ConnectorError,
    ) -> Result<bool, StoreError> {
        if !matches!(error, ConnectorError::NotFound(_))
            || matches!(op.action, Action::CreateTicket { .. })
        {
            return Ok(false);
        }
        let Some(link) = self.store.link(op.link)? else {
            return Ok(false);
        };
        let (Some(target), Some(pairing)) = (link.side(op.target), self.pairing(&link.pairing))
        else {
            return Ok(false);
        };
        match read_in_place(|| connector.get_ticket(&target.id)).await {
            Err(ConnectorError::NotFound(what)) => {
                tracing::warn!(link = link.id, ticket = %target.id, "the linked ticket is gone: unlinking");
                self.unlink(pairing, &link, op.target, &what).await?;
                Ok(true)
            }
            Ok(_) | Err(_) => Ok(false),
        }
    }
}
