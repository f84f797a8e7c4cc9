//! Notes in both directions. Every comment the bridge sees gets an entry in the
//! comment map exactly once: mirrored, withheld, or written by the bridge.
//! Visibility is default-deny: an internal note crosses only where the
//! pairing's `comments.internal` direction allows it, and always arrives
//! internal.

use psa_connector::{Comment, Visibility};
use serde_json::json;

use super::{Engine, EngineError, Plan};
use crate::config::LoadedPairing;
use crate::store::{CommentEntry, Side};

impl Engine {
    /// Plans mirrors for the comments of `side` that the bridge has not seen yet.
    pub(super) fn plan_comments(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        comments: &[Comment],
        plan: &mut Plan,
    ) -> Result<(), EngineError> {
        let rules = &pairing.mapping.comments;
        let (conn, other_conn) = (pairing.connection(side), pairing.connection(side.other()));
        let mut sorted: Vec<&Comment> = comments.iter().collect();
        sorted.sort_by_key(|c| c.created_at);
        for comment in sorted {
            if self
                .store
                .comment_entry(plan.link.id, side, &comment.id)?
                .is_some()
            {
                continue;
            }
            if comment.marker.is_some() {
                plan.comments
                    .push((side, comment.id.clone(), CommentEntry::Bridge));
                continue;
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
                },
            ));
        }
        Ok(())
    }
}
