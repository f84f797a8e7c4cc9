//! Executing one outbox operation against the vendor, idempotently: creates
//! and comments whose earlier attempt may have reached the vendor
//! (`super::attempt`) first look for the bridge's marker and adopt what
//! they find.
//! Those lookups retry a transient failure in place ([`read_in_place`]).
//! Because every action here is idempotent, the delivery worker may run it
//! again at once after a transient failure (`retry::deliver_in_place`).

use psa_connector::{Connector, ConnectorError, Ticket};

use crate::retry::read_in_place;
use crate::store::{Action, OutboxOp};

/// What a successful call produced.
///
/// `adopted` says the marker lookup found what an earlier attempt had
/// written (its answer was lost to a timeout, a reset or a crash), so this
/// attempt wrote nothing; the audit log records the adoption.
pub enum Delivered {
    Created {
        ticket: Box<Ticket>,
        adopted: bool,
    },
    /// The ticket as the vendor stored it after the update.
    Updated(Box<Ticket>),
    Commented {
        id: String,
        adopted: bool,
    },
    /// A note's visibility was changed; `gone` when the note (or its
    /// ticket) no longer exists, so there was nothing left to change.
    VisibilitySet {
        gone: bool,
    },
}

/// Performs `op` on `target_id` (the far ticket; `None` for creates),
/// looking for the marker of a create or a note first.
#[cfg(test)]
pub async fn apply(
    connector: &dyn Connector,
    op: &OutboxOp,
    target_id: Option<&str>,
) -> Result<Delivered, ConnectorError> {
    apply_with(connector, op, target_id, true).await
}

/// Performs `op` on `target_id`; a create or a note looks for its marker
/// first only when `look_first` (an earlier attempt may have written it:
/// `super::attempt`).
pub async fn apply_with(
    connector: &dyn Connector,
    op: &OutboxOp,
    target_id: Option<&str>,
    look_first: bool,
) -> Result<Delivered, ConnectorError> {
    match &op.action {
        Action::CreateTicket { ticket, .. } => {
            let existing = if look_first {
                read_in_place(|| connector.find_by_marker(&ticket.marker)).await?
            } else {
                None
            };
            if let Some(existing) = existing {
                tracing::info!(ticket = %existing.id, "found the ticket an earlier attempt created; adopting it");
                return Ok(Delivered::Created {
                    ticket: Box::new(existing),
                    adopted: true,
                });
            }
            Ok(Delivered::Created {
                ticket: Box::new(connector.create_ticket(ticket).await?),
                adopted: false,
            })
        }
        Action::UpdateTicket { update } => {
            let id = target_id.ok_or_else(not_linked)?;
            let stored = connector.update_ticket_stored(id, update).await?;
            Ok(Delivered::Updated(Box::new(stored)))
        }
        Action::AddComment { comment, .. } => {
            let id = target_id.ok_or_else(not_linked)?;
            let existing = if look_first {
                read_in_place(|| connector.list_comments(id)).await?
            } else {
                Vec::new()
            };
            if let Some(found) = existing
                .iter()
                .find(|c| c.marker.as_deref() == Some(comment.marker.as_str()))
            {
                tracing::info!(comment = %found.id, "found the note an earlier attempt wrote; adopting it");
                return Ok(Delivered::Commented {
                    id: found.id.clone(),
                    adopted: true,
                });
            }
            Ok(Delivered::Commented {
                id: connector.add_comment(id, comment).await?,
                adopted: false,
            })
        }
        Action::SetCommentVisibility {
            comment_id,
            visibility,
            ..
        } => {
            let id = target_id.ok_or_else(not_linked)?;
            match connector
                .set_comment_visibility(id, comment_id, *visibility)
                .await
            {
                Ok(()) => Ok(Delivered::VisibilitySet { gone: false }),
                Err(ConnectorError::NotFound(_)) => Ok(Delivered::VisibilitySet { gone: true }),
                Err(e) => Err(e),
            }
        }
    }
}

fn not_linked() -> ConnectorError {
    ConnectorError::Config("the target ticket does not exist yet".into())
}
