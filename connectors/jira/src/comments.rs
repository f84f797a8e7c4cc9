//! Comments: listed through the platform API (ADF bodies read as text,
//! `jsdPublic` for visibility on service desk issues; comments of a
//! software project are internal unless configured otherwise), written
//! through the JSM API with its `public` flag on service desk issues and
//! through the platform API (ADF) on software projects, the bridge's marker
//! as the text's last line. Authors are display names. A listing reads at
//! most 60 pages and 128 MiB of answers, whatever `total` the pages claim.

use http::Method;
use psa_connector::http::{HttpResponse, ListingBudget};
use psa_connector::{marker, Comment, ConnectorError, NewComment, Visibility};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{seg, JiraConnector};
use crate::issues::parse_time;
use crate::{adf, errors};

/// Comments per page (Jira serves at most 100).
const PAGE: usize = 100;
/// Most comment pages read for one issue (Jira keeps at most 5,000).
pub(crate) const MAX_PAGES: usize = 60;

/// One page of `GET issue/{id}/comment`.
#[derive(Deserialize)]
struct CommentPage {
    #[serde(default)]
    comments: Vec<Value>,
    #[serde(default)]
    total: usize,
}

/// Adds one comment page's comments to `raw`, counting its bytes against
/// the listing's `budget`; whether another page should be read (this one
/// was not empty and `raw` holds fewer than the `total` the page claims).
/// The page count itself is capped by the caller ([`MAX_PAGES`]).
pub(crate) fn read_page(
    response: &HttpResponse,
    budget: &mut ListingBudget,
    raw: &mut Vec<Value>,
) -> Result<bool, ConnectorError> {
    budget.take("comments", response.body.len())?;
    let p: CommentPage = response.json()?;
    let n = p.comments.len();
    raw.extend(p.comments);
    Ok(n > 0 && raw.len() < p.total)
}

/// The comments of raw comment beans: without an id skipped, ADF bodies as
/// text, the marker split off; visibility from `jsdPublic` on a service
/// desk (`desk`), else `plain_public`.
pub(crate) fn comments_from(raw: Vec<Value>, desk: bool, plain_public: bool) -> Vec<Comment> {
    let mut out = Vec::new();
    for c in raw {
        let Some(id) = c.get("id").and_then(Value::as_str) else {
            continue;
        };
        let text = match c.get("body") {
            Some(Value::String(s)) => s.clone(),
            Some(b) => adf::to_text_or_flat(b),
            None => String::new(),
        };
        let (body, found) = marker::extract(&text);
        let public = if desk {
            c.get("jsdPublic").and_then(Value::as_bool).unwrap_or(false)
        } else {
            plain_public
        };
        out.push(Comment {
            id: id.to_string(),
            body,
            visibility: if public {
                Visibility::Public
            } else {
                Visibility::Internal
            },
            author: c
                .pointer("/author/displayName")
                .and_then(Value::as_str)
                .map(str::to_string),
            created_at: c
                .get("created")
                .and_then(Value::as_str)
                .and_then(parse_time)
                .unwrap_or_default(),
            resolution: false,
            marker: found,
        });
    }
    out
}

impl JiraConnector {
    pub(crate) async fn do_list_comments(
        &self,
        ticket_id: &str,
    ) -> Result<Vec<Comment>, ConnectorError> {
        let desk = self.project().await?.service_desk();
        let path = format!("rest/api/3/issue/{}/comment", seg(ticket_id));
        let mut raw = Vec::new();
        let mut budget = ListingBudget::default();
        for page in 0..MAX_PAGES {
            let query = [
                ("startAt", (page * PAGE).to_string()),
                ("maxResults", PAGE.to_string()),
                ("orderBy", "created".to_string()),
            ];
            let url = self.url(&path, &query)?;
            let response = match self.http.send(Method::GET, url, None).await {
                Err(ConnectorError::Http { status: 404, .. }) => {
                    return Err(ConnectorError::NotFound(format!("issue {ticket_id}")))
                }
                other => other?,
            };
            if !read_page(&response, &mut budget, &mut raw)? {
                break;
            }
        }
        Ok(comments_from(
            raw,
            desk,
            self.settings.plain_comments_public,
        ))
    }

    pub(crate) async fn do_add_comment(
        &self,
        ticket_id: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError> {
        let text = marker::embed(&comment.body, &comment.marker);
        let (path, body) = if self.project().await?.service_desk() {
            (
                format!("rest/servicedeskapi/request/{}/comment", seg(ticket_id)),
                json!({"body": text, "public": comment.visibility == Visibility::Public}),
            )
        } else {
            (
                format!("rest/api/3/issue/{}/comment", seg(ticket_id)),
                json!({"body": adf::from_text(&text)}),
            )
        };
        let created: Value = self
            .write(Method::POST, &path, &body, &format!("issue {ticket_id}"))
            .await?
            .json()?;
        created
            .get("id")
            .and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            })
            .ok_or_else(|| {
                ConnectorError::InvalidResponse(format!(
                    "comment created without an id: {}",
                    errors::error_message(201, created.to_string().as_bytes())
                ))
            })
    }
}
