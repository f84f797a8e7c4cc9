//! Ticket notes: listing them as comments (marker extracted, visibility from
//! the discussion flag) and adding one with the bridge's marker embedded.

use http::Method;
use psa_connector::{marker, Comment, ConnectorError, NewComment, Visibility};
use serde_json::json;

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
        let mut comments: Vec<(i64, Comment)> = notes
            .into_iter()
            .map(|note| (note.id, note.into_comment()))
            .collect();
        comments.sort_by(|a, b| a.1.created_at.cmp(&b.1.created_at).then(a.0.cmp(&b.0)));
        Ok(comments.into_iter().map(|(_, c)| c).collect())
    }

    pub(crate) async fn do_add_comment(
        &self,
        ticket_id: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError> {
        let n = parse_id(ticket_id)?;
        // Only an explicitly public comment becomes a customer-visible discussion note.
        let public = comment.visibility == Visibility::Public;
        let body = json!({
            "text": marker::embed(&comment.body, &comment.marker),
            "detailDescriptionFlag": public,
            "internalAnalysisFlag": !public,
            "resolutionFlag": comment.resolution,
        });
        let url = self
            .api_url(&format!("service/tickets/{n}/notes"), &[])
            .await?;
        let created: CwNote = match self.http.send_json(Method::POST, url, Some(&body)).await {
            Err(ConnectorError::Http { status: 404, .. }) => {
                return Err(ConnectorError::NotFound(format!("ticket {n}")))
            }
            other => other?,
        };
        Ok(created.id.to_string())
    }
}
