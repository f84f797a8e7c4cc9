//! Comments and work notes: read from `sys_journal_field` (`comments` is
//! customer visible, `work_notes` internal), written by PATCHing the
//! record's `comments` / `work_notes` field, with the bridge's marker as the
//! text's trailer (`psa_connector::marker`).

use http::Method;
use psa_connector::{marker, Comment, ConnectorError, NewComment, Visibility};
use serde_json::json;

use crate::client::ServiceNowConnector;
use crate::wire::{is_sys_id, parse_time, Record};

fn element(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "comments",
        Visibility::Internal => "work_notes",
    }
}

impl ServiceNowConnector {
    pub(crate) async fn comments(&self, ticket_id: &str) -> Result<Vec<Comment>, ConnectorError> {
        if !is_sys_id(ticket_id) {
            return Err(ConnectorError::NotFound(format!("record {ticket_id:?}")));
        }
        let query =
            format!("element_id={ticket_id}^elementINcomments,work_notes^ORDERBYsys_created_on");
        let rows = self
            .list_all(
                "sys_journal_field",
                &query,
                "sys_id,element,value,sys_created_on,sys_created_by",
                false,
            )
            .await?;
        journal_comments(&rows)
    }

    /// PATCHes the journal field; returns the new entry's sys_id (found by
    /// its marker), or `<ticket>:<marker>` when the journal does not show it yet.
    pub(crate) async fn add_note(
        &self,
        ticket_id: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError> {
        if !is_sys_id(ticket_id) {
            return Err(ConnectorError::NotFound(format!("record {ticket_id:?}")));
        }
        let text = marker::embed(&comment.body, &comment.marker);
        let url = self.table_url(
            &self.settings.table,
            Some(ticket_id),
            &[("sysparm_fields", "sys_id")],
        )?;
        let body = json!({ element(comment.visibility): text });
        self.call(Method::PATCH, url, Some(&body)).await?;
        let listed = self.comments(ticket_id).await?;
        Ok(listed
            .into_iter()
            .rev()
            .find(|c| c.marker.as_deref() == Some(comment.marker.as_str()))
            .map(|c| c.id)
            .unwrap_or_else(|| format!("{ticket_id}:{}", comment.marker)))
    }
}

/// Journal rows (`sys_journal_field`) as comments; rows of other elements are skipped.
pub(crate) fn journal_comments(rows: &[serde_json::Value]) -> Result<Vec<Comment>, ConnectorError> {
    let mut comments = Vec::with_capacity(rows.len());
    for row in rows {
        let r = Record::new(row, "journal entry")?;
        let id = r.required("sys_id", "journal entry")?;
        let visibility = match r.value("element").as_str() {
            "comments" => Visibility::Public,
            "work_notes" => Visibility::Internal,
            _ => continue,
        };
        let created = r.value("sys_created_on");
        let created_at = parse_time(&created).ok_or_else(|| {
            ConnectorError::InvalidResponse(format!(
                "journal entry {id} has an unreadable sys_created_on {created:?}"
            ))
        })?;
        let (body, marker) = marker::extract(&r.value("value"));
        comments.push(Comment {
            id,
            body,
            visibility,
            author: Some(r.value("sys_created_by")).filter(|a| !a.is_empty()),
            created_at,
            resolution: false,
            marker,
        });
    }
    Ok(comments)
}
