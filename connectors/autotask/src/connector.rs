//! The [`Connector`] implementation: thin glue over the ticket, note and
//! webhook modules.

use async_trait::async_trait;
use psa_connector::{
    Catalog, ChangeHint, Comment, Connector, ConnectorError, NewComment, NewTicket, StatusInfo,
    Ticket, TicketUpdate, Timestamp, Visibility, WebhookError, WebhookRequest,
};

use crate::client::AutotaskConnector;
use crate::picklists::is_closed_status;

#[async_trait]
impl Connector for AutotaskConnector {
    fn vendor(&self) -> &'static str {
        "autotask"
    }

    fn max_chars(&self, field: &str) -> Option<usize> {
        match field {
            "title" => Some(crate::tickets::MAX_TITLE_CHARS),
            "description" => Some(crate::tickets::MAX_DESCRIPTION_CHARS),
            _ => None,
        }
    }

    async fn discover(&self) -> Result<Catalog, ConnectorError> {
        self.check_marker_udf().await?;
        let lists = self.ticket_lists(true).await?;
        let statuses = lists.get("status");
        let mut catalog = Catalog {
            statuses: Vec::new(),
            priorities: lists.get("priority").labels(),
            queues: lists.get("queueID").labels(),
        };
        for label in statuses.labels() {
            let value = statuses.value(&label).unwrap_or_default().to_string();
            catalog.statuses.push(StatusInfo {
                closed: is_closed_status(&value, &label),
                label,
            });
        }
        Ok(catalog)
    }

    async fn discover_picklists(
        &self,
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, ConnectorError> {
        let lists = self.ticket_lists(false).await?;
        Ok([
            (psa_connector::keys::GROUPS, "queueID"),
            (psa_connector::keys::CATEGORIES, "issueType"),
            (psa_connector::keys::SUBCATEGORIES, "subIssueType"),
        ]
        .into_iter()
        .map(|(key, field)| (key.to_string(), lists.get(field).labels()))
        .collect())
    }

    async fn find_person(
        &self,
        email: &str,
    ) -> Result<Option<psa_connector::Person>, ConnectorError> {
        self.person_by_email(email).await
    }

    async fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        self.read_ticket(id).await
    }

    async fn find_by_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        self.find_marker(marker).await
    }

    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        self.create(new).await
    }

    async fn update_ticket(&self, id: &str, update: &TicketUpdate) -> Result<(), ConnectorError> {
        self.update(id, update).await
    }

    async fn list_comments(&self, ticket_id: &str) -> Result<Vec<Comment>, ConnectorError> {
        self.comments(ticket_id).await
    }

    async fn add_comment(
        &self,
        ticket_id: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError> {
        self.add_note(ticket_id, comment).await
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
        self.set_note_visibility(ticket_id, comment_id, visibility)
            .await
    }

    async fn changed_since(&self, since: Timestamp) -> Result<Vec<ChangeHint>, ConnectorError> {
        self.changed(since).await
    }

    async fn verify_webhook(
        &self,
        request: &WebhookRequest,
    ) -> Result<Vec<ChangeHint>, WebhookError> {
        self.verify(request)
    }

    async fn register_webhook(&self, url: &str) -> Result<(), ConnectorError> {
        self.register(url).await
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

    fn take_webhook_deactivated(&self) -> bool {
        self.deactivated
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    fn budget(&self) -> Option<psa_connector::ApiBudget> {
        self.budget.snapshot()
    }

    fn api_stats(&self) -> Option<psa_connector::ApiStats> {
        Some(self.stats.clone())
    }
}
