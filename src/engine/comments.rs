//! Notes in both directions. Every comment the bridge sees gets an entry in the
//! comment map exactly once: mirrored, withheld, or written by the bridge.
//! Visibility is default-deny: an internal note crosses only where the
//! pairing's `comments.internal` direction allows it, and always arrives
//! internal. A note that turns internal after it crossed public is handled
//! in [`super::visibility`].

use psa_connector::{Comment, Visibility};
use serde_json::json;

use super::{Engine, EngineError, Plan};
use crate::config::LoadedPairing;
use crate::store::{Action, CommentEntry, Link, OutboxOp, Side};

impl Engine {
    /// Plans mirrors for the comments of `side` that the bridge has not seen yet.
    pub(super) fn plan_comments(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        comments: &[Comment],
        outbox_before_fetch: &[OutboxOp],
        plan: &mut Plan,
    ) -> Result<(), EngineError> {
        let rules = &pairing.mapping.comments;
        let (conn, other_conn) = (pairing.connection(side), pairing.connection(side.other()));
        let mut sorted: Vec<&Comment> = comments.iter().collect();
        sorted.sort_by_key(|c| c.created_at);
        for comment in sorted {
            if let Some(entry) = self.store.comment_entry(plan.link.id, side, &comment.id)? {
                self.recheck_visibility(pairing, side, comment, entry, plan);
                continue;
            }
            if let Some(marker) = &comment.marker {
                if written_by_bridge(&plan.link, side, marker, outbox_before_fetch) {
                    plan.comments
                        .push((side, comment.id.clone(), CommentEntry::Bridge));
                    continue;
                }
                plan.note(
                    "foreign_marker",
                    format!(
                        "{conn} note {} carries a bridge marker this link did not write there (a quoted note?); treated as a person's note",
                        comment.id
                    ),
                    json!({ "side": side, "comment": comment.id, "marker": marker }),
                );
            }
            let direction = match comment.visibility {
                Visibility::Public => rules.public,
                Visibility::Internal => rules.internal,
            };
            if !direction.allows(side) {
                let reason = format!(
                    "{} note; no rule lets it cross from {conn} to {other_conn}",
                    comment.visibility
                );
                plan.note(
                    "note_withheld",
                    format!("{conn} note {} kept on its side ({reason})", comment.id),
                    json!({ "side": side, "comment": comment.id, "visibility": comment.visibility }),
                );
                plan.comments
                    .push((side, comment.id.clone(), CommentEntry::Withheld { reason }));
                continue;
            }
            let author = comment.author.clone().unwrap_or_else(|| "Someone".into());
            let header = rules
                .author_header
                .replace("{author}", &author)
                .replace("{system}", conn);
            let marker = format!("{}:{}:{side}:{}", pairing.name, plan.link.id, comment.id);
            let target = side.other();
            plan.add_comment(
                target,
                format!("{header}\n{}", comment.body),
                comment.visibility,
                marker,
                comment.resolution,
                Some((side, comment.id.clone())),
            );
            plan.note(
                "note_planned",
                format!(
                    "{conn} {} note {} by {author} → {other_conn} as a {} note",
                    comment.visibility, comment.id, comment.visibility
                ),
                json!({ "side": side, "comment": comment.id, "visibility": comment.visibility }),
            );
            // The op id is filled in at commit time.
            plan.comments.push((
                side,
                comment.id.clone(),
                CommentEntry::Mirrored {
                    op: 0,
                    target_id: None,
                    visibility: Some(comment.visibility),
                },
            ));
        }
        Ok(())
    }
}

/// Whether a note on `side` carrying `marker` is one the bridge wrote for
/// `link` and has not recorded yet: an operation posting that marker to that
/// side is (or was, when the outbox was read) in the outbox, or the marker is
/// one of the link's own once-only markers (the created ticket's first note,
/// the write-back note). A marker copied into a person's note (an email reply
/// quoting a mirrored note) matches neither, so that note is mirrored.
/// Notes the bridge recorded are recognised earlier, by the comment map.
pub(super) fn written_by_bridge(
    link: &Link,
    side: Side,
    marker: &str,
    outbox_before_fetch: &[OutboxOp],
) -> bool {
    let ticket_marker = link.marker();
    if side != link.origin && marker == ticket_marker {
        return true;
    }
    if side == link.origin && marker == super::trigger::write_back_marker(&ticket_marker) {
        return true;
    }
    outbox_before_fetch.iter().any(|op| {
        op.link == link.id
            && op.target == side
            && matches!(&op.action, Action::AddComment { comment, .. } if comment.marker == marker)
    })
}
