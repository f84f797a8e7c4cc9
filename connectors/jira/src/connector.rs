//! The [`Connector`] trait implemented for Jira by delegating to the
//! issue, transition, search, comment and webhook modules.

use async_trait::async_trait;
use psa_connector::{
    Catalog, ChangeHint, Comment, Connector, ConnectorError, NewComment, NewTicket, StatusInfo,
    Ticket, TicketUpdate, Timestamp, WebhookError, WebhookRequest,
};

use crate::client::JiraConnector;

#[async_trait]
impl Connector for JiraConnector {
    fn vendor(&self) -> &'static str {
        "jira"
    }

    async fn discover(&self) -> Result<Catalog, ConnectorError> {
        let project = self.project().await?;
        let statuses = self.statuses(true).await?;
        let mut catalog = Catalog {
            queues: vec![project.key.clone()],
            priorities: self
                .priorities(true)
                .await?
                .into_iter()
                .map(|p| p.name)
                .collect(),
            ..Default::default()
        };
        for s in statuses {
            let closed = s.category.key == "done";
            match catalog.statuses.iter_mut().find(|k| k.label == s.name) {
                Some(k) => k.closed |= closed,
                None => catalog.statuses.push(StatusInfo {
                    label: s.name,
                    closed,
                }),
            }
        }
        self.time_zone().await?;
        Ok(catalog)
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
        self.do_update_ticket(id, update).await
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
        self.hook_status(url).await
    }

    async fn remove_webhook(&self, url: &str) -> Result<usize, ConnectorError> {
        self.remove_hooks(url).await
    }

    fn api_stats(&self) -> Option<psa_connector::ApiStats> {
        Some(self.http.stats().clone())
    }
}
