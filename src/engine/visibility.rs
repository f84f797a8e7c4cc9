//! Notes whose visibility changed after they crossed.
//!
//! The comment map remembers the visibility each mirrored note crossed with.
//! When a note that crossed public is internal now, its mirror must not stay
//! customer-visible silently: where the mirror's connector can change a
//! note's visibility, the plan makes the mirror internal (an outbox
//! operation, audited); where it cannot, the audit log and a warning say the
//! mirror stays public and why. Either way the entry records `Internal`, so
//! the change is handled once.
//!
//! Not handled here, on purpose:
//! - internal → public is never mirrored (default deny: a person may have
//!   had a reason to keep the mirror internal);
//! - a mirror not delivered yet (no far id in the entry): the first plan of
//!   the ticket after the delivery handles it (any later change on either
//!   side, the delivery's own echo, or the poll re-check);
//! - entries written before the bridge kept the visibility: a public source
//!   records `Public` as the baseline; an internal one is left alone,
//!   because it may have crossed internal (an allowed internal direction).

use psa_connector::{Comment, Visibility};
use serde_json::json;

use super::{Engine, Plan, PlannedOp};
use crate::config::LoadedPairing;
use crate::store::{Action, CommentEntry, Side};

impl Engine {
    /// Compares a recorded comment's current visibility with the one its
    /// mirror crossed with, and plans what a change to internal needs.
    pub(super) fn recheck_visibility(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        comment: &Comment,
        entry: CommentEntry,
        plan: &mut Plan,
    ) {
        let CommentEntry::Mirrored {
            op,
            target_id: Some(target_id),
            visibility: crossed,
        } = entry
        else {
            return;
        };
        let entry = |visibility| CommentEntry::Mirrored {
            op,
            target_id: Some(target_id.clone()),
            visibility: Some(visibility),
        };
        match (crossed, comment.visibility) {
            (None, Visibility::Public) => {
                plan.comments
                    .push((side, comment.id.clone(), entry(Visibility::Public)));
            }
            (Some(Visibility::Public), Visibility::Internal) => {
                let target = side.other();
                let (conn, far) = (pairing.connection(side), pairing.connection(target));
                let detail = json!({ "side": side, "comment": comment.id, "mirror": target_id });
                let can = self
                    .side_connection(pairing, target)
                    .is_some_and(|c| c.connector.can_set_comment_visibility());
                if can {
                    tracing::warn!(connection = conn, comment = %comment.id, mirror = %target_id, "note became internal after it crossed; making its mirror internal");
                    plan.ops.push(PlannedOp {
                        target,
                        action: Action::SetCommentVisibility {
                            comment_id: target_id.clone(),
                            visibility: Visibility::Internal,
                            source: (side, comment.id.clone()),
                        },
                        fields: Vec::new(),
                    });
                    plan.note(
                        "note_became_internal",
                        format!(
                            "{conn} note {} became internal after it crossed; making its {far} mirror {target_id} internal",
                            comment.id
                        ),
                        detail,
                    );
                } else {
                    tracing::warn!(connection = conn, comment = %comment.id, mirror = %target_id, "note became internal after it crossed; its mirror stays public (the connector cannot change a note's visibility)");
                    plan.note(
                        "note_became_internal",
                        format!(
                            "{conn} note {} became internal after it crossed; its {far} mirror {target_id} stays public: the {far} connector cannot change a note's visibility (change it there by hand)",
                            comment.id
                        ),
                        detail,
                    );
                }
                plan.comments
                    .push((side, comment.id.clone(), entry(Visibility::Internal)));
            }
            _ => {}
        }
    }
}
