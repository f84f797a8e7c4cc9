//! Test support: [`Fake`] turns a [`Script`] into a [`Connector`], so a unit
//! test writes only the answers it needs (every other call fails with a
//! "not scripted" error). Scripts are synchronous; the fake is async.

use async_trait::async_trait;
use psa_connector::{
    Catalog, ChangeHint, Comment, Connector, ConnectorError, NewComment, NewTicket, Ticket,
    TicketUpdate, Timestamp, Visibility, WebhookError, WebhookRequest,
};

fn not_scripted(call: &str) -> ConnectorError {
    ConnectorError::Config(format!("{call} is not scripted in this test"))
}

/// The answers of a fake connector; each defaults to "not scripted".
pub trait Script: Send + Sync {
    fn get_ticket(&self, _id: &str) -> Result<Ticket, ConnectorError> {
        Err(not_scripted("get_ticket"))
    }
    fn find_by_marker(&self, _marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        Err(not_scripted("find_by_marker"))
    }
    fn create_ticket(&self, _new: &NewTicket) -> Result<Ticket, ConnectorError> {
        Err(not_scripted("create_ticket"))
    }
    fn update_ticket(&self, _id: &str, _update: &TicketUpdate) -> Result<(), ConnectorError> {
        Err(not_scripted("update_ticket"))
    }
    fn list_comments(&self, _ticket: &str) -> Result<Vec<Comment>, ConnectorError> {
        Err(not_scripted("list_comments"))
    }
    fn add_comment(&self, _ticket: &str, _comment: &NewComment) -> Result<String, ConnectorError> {
        Err(not_scripted("add_comment"))
    }
    fn can_set_comment_visibility(&self) -> bool {
        false
    }
    /// Nobody, unless scripted.
    fn find_person(&self, _email: &str) -> Result<Option<psa_connector::Person>, ConnectorError> {
        Ok(None)
    }
    fn set_comment_visibility(
        &self,
        _ticket: &str,
        _comment: &str,
        _visibility: Visibility,
    ) -> Result<(), ConnectorError> {
        Err(not_scripted("set_comment_visibility"))
    }
}

/// A connector answering from a [`Script`].
pub struct Fake<S>(pub S);

#[async_trait]
impl<S: Script> Connector for Fake<S> {
    fn vendor(&self) -> &'static str {
        "fake"
    }
    async fn discover(&self) -> Result<Catalog, ConnectorError> {
        Err(not_scripted("discover"))
    }
    async fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        self.0.get_ticket(id)
    }
    async fn find_by_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        self.0.find_by_marker(marker)
    }
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        self.0.create_ticket(new)
    }
    async fn update_ticket(&self, id: &str, update: &TicketUpdate) -> Result<(), ConnectorError> {
        self.0.update_ticket(id, update)
    }
    async fn list_comments(&self, ticket: &str) -> Result<Vec<Comment>, ConnectorError> {
        self.0.list_comments(ticket)
    }
    async fn add_comment(
        &self,
        ticket: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError> {
        self.0.add_comment(ticket, comment)
    }
    fn can_set_comment_visibility(&self) -> bool {
        self.0.can_set_comment_visibility()
    }
    async fn find_person(
        &self,
        email: &str,
    ) -> Result<Option<psa_connector::Person>, ConnectorError> {
        self.0.find_person(email)
    }
    async fn set_comment_visibility(
        &self,
        ticket: &str,
        comment: &str,
        visibility: Visibility,
    ) -> Result<(), ConnectorError> {
        self.0.set_comment_visibility(ticket, comment, visibility)
    }
    async fn changed_since(&self, _since: Timestamp) -> Result<Vec<ChangeHint>, ConnectorError> {
        Err(not_scripted("changed_since"))
    }
    async fn verify_webhook(&self, _: &WebhookRequest) -> Result<Vec<ChangeHint>, WebhookError> {
        Err(WebhookError::Malformed(
            "verify_webhook is not scripted".into(),
        ))
    }
    async fn register_webhook(&self, _url: &str) -> Result<(), ConnectorError> {
        Err(not_scripted("register_webhook"))
    }
}

/// A plain open ticket with the given id, for fakes' answers.
pub fn sample_ticket(id: &str) -> Ticket {
    Ticket {
        assignee: Default::default(),
        category: Default::default(),
        id: id.into(),
        number: id.into(),
        title: "t".into(),
        description: None,
        status: "New".into(),
        priority: "Low".into(),
        queue: None,
        closed: false,
        marker: None,
        fields: Default::default(),
        updated_at: chrono::Utc::now(),
    }
}
