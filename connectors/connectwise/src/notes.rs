//! Ticket notes: listing them as comments (marker extracted, visibility from
//! the flags, default internal) and adding one with the bridge's marker
//! embedded and flags that keep an internal note internal.

use http::Method;
use psa_connector::{marker, Comment, ConnectorError, NewComment, Visibility};
use serde_json::{json, Value};

use crate::api::CwNote;
use crate::client::ConnectWiseConnector;
use crate::tickets::parse_id;

impl ConnectWiseConnector {
    pub(crate) async fn do_list_comments(
        &self,
        ticket_id: &str,
    ) -> Result<Vec<Comment>, ConnectorError> {
        let n = parse_id(ticket_id)?;
        let notes: Vec<CwNote> = match self
            .get_all(
                &format!("service/tickets/{n}/notes"),
                &[("orderBy", "id asc".into())],
            )
            .await
        {
            Err(ConnectorError::Http { status: 404, .. }) => {
                return Err(ConnectorError::NotFound(format!("ticket {n}")))
            }
            other => other?,
        };
        Ok(comments_from(notes))
    }

    pub(crate) async fn do_add_comment(
        &self,
        ticket_id: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError> {
        let n = parse_id(ticket_id)?;
        let body = note_body(comment);
        let url = self
            .api_url(&format!("service/tickets/{n}/notes"), &[])
            .await?;
        let created: CwNote = match self.http.send_json(Method::POST, url, Some(&body)).await {
            Err(ConnectorError::Http { status: 404, .. }) => {
                return Err(ConnectorError::NotFound(format!("ticket {n}")))
            }
            other => other?,
        };
        self.own_member.learn(created.info.updated_by.as_deref());
        Ok(created.id.to_string())
    }

    /// `PATCH service/tickets/{id}/notes/{note}` with the flags of
    /// [`visibility_ops`]; the resolution flag stays as it is.
    pub(crate) async fn do_set_comment_visibility(
        &self,
        ticket_id: &str,
        comment_id: &str,
        visibility: Visibility,
    ) -> Result<(), ConnectorError> {
        let n = parse_id(ticket_id)?;
        let note = parse_id(comment_id)?;
        let url = self
            .api_url(&format!("service/tickets/{n}/notes/{note}"), &[])
            .await?;
        match self
            .http
            .send(Method::PATCH, url, Some(&visibility_ops(visibility)))
            .await
        {
            Err(ConnectorError::Http { status: 404, .. }) => Err(ConnectorError::NotFound(
                format!("note {note} of ticket {n}"),
            )),
            other => other.map(|_| ()),
        }
    }
}

/// JSON-Patch operations giving a note the flags [`note_body`] writes for
/// `visibility`: internal is internal analysis with `internalFlag`, never
/// discussion.
/// Notes as comments, oldest first (notes of the same instant by id).
pub(crate) fn comments_from(notes: Vec<CwNote>) -> Vec<Comment> {
    let mut comments: Vec<(i64, Comment)> = notes
        .into_iter()
        .map(|note| (note.id, note.into_comment()))
        .collect();
    comments.sort_by(|a, b| a.1.created_at.cmp(&b.1.created_at).then(a.0.cmp(&b.0)));
    comments.into_iter().map(|(_, c)| c).collect()
}

pub(crate) fn visibility_ops(visibility: Visibility) -> Value {
    let public = visibility == Visibility::Public;
    let op = |path: &str, value: bool| json!({"op": "replace", "path": path, "value": value});
    json!([
        op("detailDescriptionFlag", public),
        op("internalAnalysisFlag", !public),
        op("internalFlag", !public),
    ])
}

/// The POST body for a note. Only an explicitly public comment becomes a
/// customer-visible discussion note; an internal one (resolution or not) is
/// stored with `internalAnalysisFlag` and `internalFlag`, so ConnectWise and
/// [`crate::api::CwNote::visibility`] both keep it internal.
pub(crate) fn note_body(comment: &NewComment) -> Value {
    let public = comment.visibility == Visibility::Public;
    json!({
        "text": marker::embed(&comment.body, &comment.marker),
        "detailDescriptionFlag": public,
        "internalAnalysisFlag": !public,
        "internalFlag": !public,
        "resolutionFlag": comment.resolution,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CwNote;

    fn written(visibility: Visibility, resolution: bool) -> CwNote {
        let mut body = note_body(&NewComment {
            body: "b".into(),
            visibility,
            marker: "m".into(),
            resolution,
        });
        body["id"] = json!(1);
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn internal_ops_clear_discussion_and_set_both_internal_flags() {
        let ops = visibility_ops(Visibility::Internal);
        let value = |path: &str| {
            ops.as_array()
                .unwrap()
                .iter()
                .find(|o| o["path"] == path)
                .map(|o| o["value"].clone())
        };
        assert_eq!(value("detailDescriptionFlag"), Some(json!(false)));
        assert_eq!(value("internalAnalysisFlag"), Some(json!(true)));
        assert_eq!(value("internalFlag"), Some(json!(true)));
        assert_eq!(value("resolutionFlag"), None, "resolution stays as it is");
    }

    #[test]
    fn written_flags_read_back_with_the_same_visibility() {
        for resolution in [false, true] {
            for visibility in [Visibility::Public, Visibility::Internal] {
                let note = written(visibility, resolution);
                assert_eq!(note.visibility(), visibility, "resolution={resolution}");
                assert_eq!(note.resolution, resolution);
            }
        }
        let internal = note_body(&NewComment {
            body: "b".into(),
            visibility: Visibility::Internal,
            marker: "m".into(),
            resolution: true,
        });
        assert_eq!(internal["detailDescriptionFlag"], json!(false));
        assert_eq!(internal["internalAnalysisFlag"], json!(true));
        assert_eq!(internal["internalFlag"], json!(true));
        assert_eq!(internal["resolutionFlag"], json!(true));
    }
}
