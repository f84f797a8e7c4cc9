//! The [`Connector`] trait implemented for ConnectWise by delegating to the
//! ticket, note and callback modules.

use async_trait::async_trait;
use psa_connector::{
    Catalog, ChangeHint, Comment, Connector, ConnectorError, NewComment, NewTicket, Ticket,
    TicketUpdate, Timestamp, Visibility, WebhookError, WebhookRequest,
};

use crate::client::ConnectWiseConnector;

#[async_trait]
impl Connector for ConnectWiseConnector {
    fn vendor(&self) -> &'static str {
        "connectwise"
    }

    fn max_chars(&self, field: &str) -> Option<usize> {
        (field == "title").then_some(crate::tickets::SUMMARY_MAX_CHARS)
    }

    async fn discover(&self) -> Result<Catalog, ConnectorError> {
        self.do_discover().await
    }

    async fn discover_picklists(
        &self,
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, ConnectorError> {
        self.owner_catalog().await
    }

    async fn find_person(
        &self,
        email: &str,
    ) -> Result<Option<psa_connector::Person>, ConnectorError> {
        self.person_by_email(email).await
    }

    async fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        self.do_get_ticket(id).await
    }

    async fn find_by_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        self.do_find_by_marker(marker).await
    }

    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        self.do_create_ticket(new).await
    }

    async fn update_ticket(&self, id: &str, update: &TicketUpdate) -> Result<(), ConnectorError> {
        self.do_update_ticket(id, update).await.map(|_| ())
    }

    async fn update_ticket_stored(
        &self,
        id: &str,
        update: &TicketUpdate,
    ) -> Result<Ticket, ConnectorError> {
        self.do_update_ticket_stored(id, update).await
    }

    async fn list_comments(&self, ticket_id: &str) -> Result<Vec<Comment>, ConnectorError> {
        self.do_list_comments(ticket_id).await
    }

    async fn add_comment(
        &self,
        ticket_id: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError> {
        self.do_add_comment(ticket_id, comment).await
    }

    fn can_set_comment_visibility(&self) -> bool {
        true
    }

    async fn set_comment_visibility(
        &self,
        ticket_id: &str,
        comment_id: &str,
        visibility: Visibility,
    ) -> Result<(), ConnectorError> {
        self.do_set_comment_visibility(ticket_id, comment_id, visibility)
            .await
    }

    async fn changed_since(&self, since: Timestamp) -> Result<Vec<ChangeHint>, ConnectorError> {
        self.do_changed_since(since).await
    }

    async fn verify_webhook(
        &self,
        request: &WebhookRequest,
    ) -> Result<Vec<ChangeHint>, WebhookError> {
        self.do_verify_webhook(request).await
    }

    async fn register_webhook(&self, url: &str) -> Result<(), ConnectorError> {
        self.do_register_webhook(url).await
    }

    async fn webhook_status(
        &self,
        url: &str,
    ) -> Result<psa_connector::WebhookStatus, ConnectorError> {
        self.callback_status(url).await
    }

    async fn remove_webhook(&self, url: &str) -> Result<usize, ConnectorError> {
        self.remove_callbacks(url).await
    }

    fn api_stats(&self) -> Option<psa_connector::ApiStats> {
        Some(self.http.stats().clone())
    }
}
