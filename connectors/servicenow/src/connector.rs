//! The [`Connector`] implementation: thin glue over the ticket, journal,
//! polling, choice and notification modules.

use std::collections::BTreeMap;

use async_trait::async_trait;
use psa_connector::{
    Catalog, ChangeHint, Comment, Connector, ConnectorError, NewComment, NewTicket, StatusInfo,
    Ticket, TicketUpdate, Timestamp, WebhookError, WebhookRequest,
};

use crate::client::ServiceNowConnector;

impl ServiceNowConnector {
    /// Active assignment group names.
    async fn group_names(&self) -> Result<Vec<String>, ConnectorError> {
        let rows = self
            .list_all(
                "sys_user_group",
                "active=true^ORDERBYname",
                "sys_id,name",
                false,
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| crate::wire::Record(r).value("name"))
            .filter(|n| !n.is_empty())
            .collect())
    }
}

#[async_trait]
impl Connector for ServiceNowConnector {
    fn vendor(&self) -> &'static str {
        "servicenow"
    }

    async fn discover(&self) -> Result<Catalog, ConnectorError> {
        let choices = self.choices(true).await?;
        Ok(Catalog {
            statuses: choices
                .labels("state")
                .into_iter()
                .map(|label| StatusInfo {
                    closed: self.settings.closed_states.contains(&label),
                    label,
                })
                .collect(),
            priorities: choices.labels("priority"),
            queues: self.group_names().await?,
        })
    }

    async fn discover_picklists(&self) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
        let choices = self.choices(false).await?;
        let mut lists: BTreeMap<String, Vec<String>> =
            ["impact", "urgency", "close_code", "hold_reason"]
                .into_iter()
                .map(|f| (f.to_string(), choices.labels(f)))
                .collect();
        let groups = self.group_names().await?;
        lists.insert(psa_connector::keys::GROUPS.into(), groups.clone());
        lists.insert("assignment_group".into(), groups);
        lists.insert(
            psa_connector::keys::CATEGORIES.into(),
            choices.labels("category"),
        );
        lists.insert(
            psa_connector::keys::SUBCATEGORIES.into(),
            choices.labels("subcategory"),
        );
        Ok(lists)
    }

    async fn find_person(
        &self,
        email: &str,
    ) -> Result<Option<psa_connector::Person>, ConnectorError> {
        self.person_by_email(email).await
    }

    async fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        self.read(id).await
    }

    async fn find_by_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        self.find_marker(marker).await
    }

    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        self.create(new).await
    }

    async fn update_ticket(&self, id: &str, update: &TicketUpdate) -> Result<(), ConnectorError> {
        self.update(id, update).await.map(|_| ())
    }

    async fn update_ticket_stored(
        &self,
        id: &str,
        update: &TicketUpdate,
    ) -> Result<Ticket, ConnectorError> {
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

    async fn changed_since(&self, since: Timestamp) -> Result<Vec<ChangeHint>, ConnectorError> {
        self.changed(since).await
    }

    async fn verify_webhook(
        &self,
        request: &WebhookRequest,
    ) -> Result<Vec<ChangeHint>, WebhookError> {
        self.verify(request)
    }

    /// ServiceNow has no API to register an outbound notification: an
    /// instance admin pastes the business rule from
    /// `docs/vendors/servicenow.md`. Nothing to do here; polling stays on.
    async fn register_webhook(&self, url: &str) -> Result<(), ConnectorError> {
        tracing::info!(
            url,
            "ServiceNow notifications are set up by an instance admin (business rule, docs/vendors/servicenow.md); nothing to register"
        );
        Ok(())
    }

    /// The business rule that notifies the bridge is set up by an instance
    /// admin and cannot be read through the Table API with the bridge's
    /// usual roles: the status says so and how to check by hand.
    async fn webhook_status(
        &self,
        url: &str,
    ) -> Result<psa_connector::WebhookStatus, ConnectorError> {
        Ok(psa_connector::WebhookStatus::unsupported(
            url,
            format!(
                "ServiceNow notifications come from a business rule an instance admin sets up \
                 (docs/vendors/servicenow.md); check it under System Definition > Business Rules \
                 (table {}, active, posting to {url}) and its calls under System Logs > Outbound HTTP Requests. \
                 Polling covers changes either way.",
                self.settings.table
            ),
        ))
    }

    async fn remove_webhook(&self, url: &str) -> Result<usize, ConnectorError> {
        Err(ConnectorError::Config(format!(
            "ServiceNow notifications to {url} come from a business rule an instance admin set up; \
             deactivate it under System Definition > Business Rules"
        )))
    }

    fn api_stats(&self) -> Option<psa_connector::ApiStats> {
        Some(self.http.stats().clone())
    }
}
