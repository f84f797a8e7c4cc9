//! Ticket notes as comments: visibility from the `publish` picklist, the
//! bridge's marker embedded in the description.

use chrono::Utc;
use http::Method;
use psa_connector::{marker, Comment, ConnectorError, NewComment, Visibility};
use serde_json::json;

use crate::client::AutotaskConnector;
use crate::errors::missing_on_write;
use crate::picklists::EntityPicklists;
use crate::wire::{self, ItemIdResponse, WireNote};

/// Autotask's limits on note text.
const MAX_NOTE_DESCRIPTION_CHARS: usize = 32_000;
const MAX_NOTE_TITLE_CHARS: usize = 50;

/// A note title from the body's first non-empty line (Autotask may require one).
pub(crate) fn note_title(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.is_empty() {
        return "Note".to_string();
    }
    let mut title: String = line.chars().take(MAX_NOTE_TITLE_CHARS).collect();
    if line.chars().count() > MAX_NOTE_TITLE_CHARS {
        title = title.chars().take(MAX_NOTE_TITLE_CHARS - 1).collect();
        title.push('…');
    }
    title
}

/// The integer value of `label` in the picklist `field` (`kind` names the
/// setting in errors).
fn picklist_int(
    lists: &EntityPicklists,
    field: &str,
    kind: &'static str,
    label: &str,
) -> Result<i64, ConnectorError> {
    let list = lists.get(field);
    let value = list.require(kind, label)?;
    value.parse().map_err(|_| {
        ConnectorError::InvalidResponse(format!("{field} value {value:?} is not an integer"))
    })
}

/// Oldest first; notes of the same instant by id.
pub(crate) fn sort_comments(comments: &mut [Comment]) {
    comments.sort_by(|a, b| {
        a.created_at.cmp(&b.created_at).then_with(|| {
            let n = |c: &Comment| c.id.parse::<i64>().unwrap_or(i64::MAX);
            n(a).cmp(&n(b))
        })
    });
}

fn parse_ticket_id(id: &str) -> Result<i64, ConnectorError> {
    id.trim()
        .parse()
        .map_err(|_| ConnectorError::NotFound(format!("ticket {id:?} (not an Autotask id)")))
}

impl AutotaskConnector {
    /// The `publish` label configured for `visibility`.
    fn publish_label(&self, visibility: Visibility) -> &str {
        match visibility {
            Visibility::Public => &self.settings.public_publish_label,
            Visibility::Internal => &self.settings.internal_publish_label,
        }
    }

    /// The tenant's `publish` value for `visibility` (the one place that
    /// decides it, for new notes and visibility changes alike).
    fn publish_value(
        &self,
        lists: &EntityPicklists,
        visibility: Visibility,
    ) -> Result<i64, ConnectorError> {
        picklist_int(lists, "publish", "publish", self.publish_label(visibility))
    }

    /// A note's visibility from its `publish` value: public only when it is
    /// exactly the configured public label (default deny).
    fn visibility_of(&self, lists: &EntityPicklists, publish: Option<i64>) -> Visibility {
        let list = lists.get("publish");
        let label = publish.and_then(|p| list.label(&p.to_string()));
        if label.is_some_and(|l| !l.is_empty() && l == self.settings.public_publish_label) {
            Visibility::Public
        } else {
            Visibility::Internal
        }
    }

    pub(crate) async fn comments(&self, ticket_id: &str) -> Result<Vec<Comment>, ConnectorError> {
        let id = parse_ticket_id(ticket_id)?;
        let items = self.query_all(&format!("Tickets/{id}/Notes"), None).await?;
        let lists = self.note_lists().await?;
        let mut comments = Vec::with_capacity(items.len());
        for item in items {
            let note: WireNote = wire::from_item("ticket note", item)?;
            let author = self.note_author(&note).await;
            comments.push(self.comment_from(&lists, note, author));
        }
        sort_comments(&mut comments);
        Ok(comments)
    }

    /// A note as a comment: visibility from `publish`, the marker split off.
    pub(crate) fn comment_from(
        &self,
        lists: &EntityPicklists,
        note: WireNote,
        author: Option<String>,
    ) -> Comment {
        let visibility = self.visibility_of(lists, note.publish);
        let (body, found_marker) = marker::extract(note.description.as_deref().unwrap_or(""));
        let created_at = note
            .create_date_time
            .as_deref()
            .and_then(wire::parse_time)
            .unwrap_or_else(Utc::now);
        Comment {
            id: note.id.to_string(),
            body,
            visibility,
            author,
            created_at,
            resolution: false,
            marker: found_marker,
        }
    }

    pub(crate) async fn add_note(
        &self,
        ticket_id: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError> {
        let id = parse_ticket_id(ticket_id)?;
        let lists = self.note_lists().await?;
        let note_type = picklist_int(
            &lists,
            "noteType",
            "note_type",
            &self.settings.note_type_label,
        )?;
        let publish = self.publish_value(&lists, comment.visibility)?;
        // Keep the marker whole: shorten the body, never the marker line.
        let room = MAX_NOTE_DESCRIPTION_CHARS
            .saturating_sub(marker::embed("", &comment.marker).chars().count() + 1);
        let body: String = if comment.body.chars().count() > room {
            tracing::warn!(
                ticket = id,
                "note text truncated to Autotask's 32,000 characters"
            );
            comment.body.chars().take(room).collect()
        } else {
            comment.body.clone()
        };
        let payload = json!({
            "ticketID": id,
            "title": note_title(&body),
            "description": marker::embed(&body, &comment.marker),
            "noteType": note_type,
            "publish": publish,
        });
        let created: ItemIdResponse = match self
            .call(Method::POST, &format!("Tickets/{id}/Notes"), Some(&payload))
            .await
        {
            // Autotask refuses a note on a missing ticket with "No matching records found".
            Err(e) if missing_on_write(&e) => {
                return Err(ConnectorError::NotFound(format!("ticket {id}")))
            }
            other => other?.json()?,
        };
        Ok(created.item_id.to_string())
    }

    /// `PATCH Tickets/{ticket}/Notes` with the note's id and the `publish`
    /// value of `visibility` (the configured public or internal label).
    pub(crate) async fn set_note_visibility(
        &self,
        ticket_id: &str,
        note_id: &str,
        visibility: Visibility,
    ) -> Result<(), ConnectorError> {
        let id = parse_ticket_id(ticket_id)?;
        let note: i64 = note_id.trim().parse().map_err(|_| {
            ConnectorError::NotFound(format!("note {note_id:?} (not an Autotask id)"))
        })?;
        let lists = self.note_lists().await?;
        let publish = self.publish_value(&lists, visibility)?;
        let payload = json!({ "id": note, "publish": publish });
        match self
            .call(
                Method::PATCH,
                &format!("Tickets/{id}/Notes"),
                Some(&payload),
            )
            .await
        {
            Err(e) if missing_on_write(&e) => Err(ConnectorError::NotFound(format!(
                "note {note} of ticket {id}"
            ))),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(note_title("\n  Hello there \nmore"), "Hello there");
        assert_eq!(note_title("   "), "Note");
        let long = "x".repeat(80);
        let t = note_title(&long);
        assert_eq!(t.chars().count(), 50);
        assert!(t.ends_with('…'));
    }
}
