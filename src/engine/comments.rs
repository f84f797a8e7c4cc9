//! Notes in both directions. Every comment the bridge sees gets an entry in the
//! comment map exactly once: mirrored, withheld, or written by the bridge.
//! Visibility is default-deny: an internal note crosses only where the
//! pairing's `comments.internal` direction allows it, and always arrives
//! internal. A note that turns internal after it crossed public is handled
//! in [`super::visibility`].
//!
//! Mirror markers name the link's ticket marker, the source side and the
//! source note ([`Link::mirror_marker`]), so a mirror can be recognised from
//! vendor data alone: a store restored from a backup (or a link found again)
//! does not know the mirrors written since, and a note on one side whose
//! exact trailer is the mirror marker of a note present on the other side of
//! the same link, not yet in the comment map, is recorded as that note's
//! mirror (audited `mirror_recovered`) instead of being posted again or
//! mirrored back ([`recovered`]).

use psa_connector::{Comment, Visibility};
use serde_json::json;

use super::{Engine, EngineError, Plan};
use crate::config::LoadedPairing;
use crate::store::{Action, CommentEntry, Link, OutboxOp, Side};

impl Engine {
    /// Plans mirrors for the comments of `side` that the bridge has not seen
    /// yet, with the other side's notes as read in this plan unknown.
    #[cfg(test)]
    pub(super) fn plan_comments(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        comments: &[Comment],
        outbox_before_fetch: &[OutboxOp],
        plan: &mut Plan,
    ) -> Result<(), EngineError> {
        self.plan_side_notes(
            pairing,
            side,
            comments,
            Some(&[]),
            outbox_before_fetch,
            plan,
        )
    }

    /// Plans mirrors for the comments of `side` that the bridge has not seen
    /// yet. `other` holds the other side's notes as read for this plan;
    /// `None` when the link has no ticket there yet, and then a note whose
    /// marker names a note of the other side is left for a later plan that
    /// can read both sides.
    pub(super) fn plan_side_notes(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        comments: &[Comment],
        other: Option<&[Comment]>,
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
            match self.recovered(&plan.link, side, comment, comments, other)? {
                Some(Recovered::Mirror) => {
                    plan.comments
                        .push((side, comment.id.clone(), CommentEntry::Bridge));
                    continue;
                }
                Some(Recovered::Source(mirror)) => {
                    plan.note(
                        "mirror_recovered",
                        format!(
                            "{conn} note {} already has its mirror {} on {other_conn} (found by its marker; the store did not know it, e.g. restored from a backup): recorded, not posted again",
                            comment.id, mirror.id
                        ),
                        json!({ "side": side, "comment": comment.id, "mirror": mirror.id }),
                    );
                    plan.comments.push((
                        side,
                        comment.id.clone(),
                        CommentEntry::Mirrored {
                            op: 0,
                            target_id: Some(mirror.id.clone()),
                            visibility: Some(mirror.visibility),
                        },
                    ));
                    continue;
                }
                None => {}
            }
            if let Some(marker) = &comment.marker {
                if written_by_bridge(&plan.link, side, marker, outbox_before_fetch) {
                    plan.comments
                        .push((side, comment.id.clone(), CommentEntry::Bridge));
                    continue;
                }
                if other.is_none() && marker.starts_with(&plan.link.mirror_prefix(side.other())) {
                    tracing::debug!(connection = conn, comment = %comment.id, "note carries this link's mirror marker; decided once the other side can be read");
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
            let marker = plan.link.mirror_marker(side, &comment.id);
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
                json!({ "side": side, "comment": comment.id, "visibility": comment.visibility, "created_at": comment.created_at }),
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
/// the write-back note), or the marker of one of its close or description
/// notes for a change on the other side. A marker copied into a person's
/// note (an email reply quoting a mirrored note) matches none of these, so
/// that note is mirrored.
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
    // The close rule's and description edits' notes (and the targets
    // monitor's, `accountability::monitor`): written to the side opposite
    // the change, with a fresh id; recognised by their link-specific
    // prefix when the comment map lost them (restored store).
    if ["close", "desc", "target"]
        .iter()
        .any(|kind| marker.starts_with(&link.event_prefix(kind, side.other())))
    {
        return true;
    }
    outbox_before_fetch.iter().any(|op| {
        op.link == link.id
            && op.target == side
            && matches!(&op.action, Action::AddComment { comment, .. } if comment.marker == marker)
    })
}

/// What a note unknown to the comment map is, found from vendor data alone.
enum Recovered<'a> {
    /// The note is the bridge's mirror of a note on the other side.
    Mirror,
    /// The note's mirror on the other side exists already.
    Source(&'a Comment),
}

impl Engine {
    /// Whether `comment` (on `side`, not in the comment map) and a note of
    /// the other side of the same link are a note and the mirror the bridge
    /// wrote for it, recognised by the mirror's exact trailer carrying
    /// [`Link::mirror_marker`] of the source note, while the source note is
    /// not in the comment map either (the store lost what it knew, e.g. a
    /// restored backup). Markers of other links or pairings never match: the
    /// mirror marker names this link's ticket marker. When several notes of
    /// a side carry the same mirror marker, only the oldest counts as the
    /// mirror; the others are people's copies.
    fn recovered<'a>(
        &self,
        link: &Link,
        side: Side,
        comment: &Comment,
        same_side: &[Comment],
        other: Option<&'a [Comment]>,
    ) -> Result<Option<Recovered<'a>>, EngineError> {
        let Some(other) = other else {
            return Ok(None);
        };
        // This note as a mirror of a note on the other side.
        if let Some(marker) = &comment.marker {
            let source = other
                .iter()
                .find(|o| link.mirror_marker(side.other(), &o.id) == *marker);
            if let Some(source) = source {
                let first = oldest_with_marker(same_side, marker).map(|c| c.id.as_str());
                if first == Some(comment.id.as_str())
                    && self
                        .store
                        .comment_entry(link.id, side.other(), &source.id)?
                        .is_none()
                {
                    return Ok(Some(Recovered::Mirror));
                }
            }
        }
        // This note as the source of a mirror on the other side.
        let marker = link.mirror_marker(side, &comment.id);
        if let Some(mirror) = oldest_with_marker(other, &marker) {
            let mirror_entry = self
                .store
                .comment_entry(link.id, side.other(), &mirror.id)?;
            if matches!(mirror_entry, None | Some(CommentEntry::Bridge)) {
                return Ok(Some(Recovered::Source(mirror)));
            }
        }
        Ok(None)
    }
}

/// The oldest note carrying `marker` as its exact trailer (the first in the
/// vendor's order among equally old ones).
fn oldest_with_marker<'a>(notes: &'a [Comment], marker: &str) -> Option<&'a Comment> {
    notes
        .iter()
        .filter(|c| c.marker.as_deref() == Some(marker))
        .min_by_key(|c| c.created_at)
}
