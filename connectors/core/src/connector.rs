//! The [`Connector`] trait: everything the daemon needs from one vendor account.

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;

use crate::error::{ConnectorError, WebhookError};
use crate::model::{
    Catalog, ChangeHint, Comment, NewComment, NewTicket, Person, Ticket, TicketUpdate, Timestamp,
    Visibility,
};
use crate::webhooks::WebhookStatus;

/// An incoming webhook exactly as received: verification works on the raw bytes.
#[derive(Clone, Debug)]
pub struct WebhookRequest {
    pub headers: HeaderMap,
    /// The raw query string, if any (ConnectWise appends the record id to the URL).
    pub query: Option<String>,
    pub body: Bytes,
}

/// One configured account on one vendor system.
///
/// Every call goes through the connection's rate limiter (see [`crate::http`]).
/// Picklist values are labels; connectors map them to tenant ids.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Vendor key as used in configuration (`autotask`, `connectwise`, ...).
    fn vendor(&self) -> &'static str;

    /// Discovers the statuses, priorities and queues/boards the tenant has.
    async fn discover(&self) -> Result<Catalog, ConnectorError>;

    /// Further picklists a mapping may name, by field (ServiceNow: `impact`,
    /// `urgency`, `close_code`, `hold_reason`), for `check`. Connectors
    /// whose [`Catalog`] says everything keep this default (none).
    async fn discover_picklists(
        &self,
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, ConnectorError> {
        Ok(std::collections::BTreeMap::new())
    }

    /// The person whose e-mail address is `email` (compared
    /// case-insensitively), through the vendor's resource / member / user
    /// lookup; `None` when nobody has it. Connectors cache the answers.
    /// Connectors that cannot look people up keep this default (nobody).
    async fn find_person(&self, email: &str) -> Result<Option<Person>, ConnectorError> {
        let _ = email;
        Ok(None)
    }

    /// Reads the current state of one ticket. Missing tickets give [`ConnectorError::NotFound`].
    async fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError>;

    /// Finds the ticket the bridge created with this marker, if any (idempotent create).
    async fn find_by_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError>;

    /// Creates a ticket carrying `new.marker`; returns it as stored.
    async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError>;

    /// Writes only the fields present in `update`.
    async fn update_ticket(&self, id: &str, update: &TicketUpdate) -> Result<(), ConnectorError>;

    /// Writes `update` and returns the ticket as the vendor stored it, so the
    /// bridge records what the vendor kept (a truncated summary, a trimmed
    /// or canonical value) rather than what it asked for. Connectors whose
    /// write answer carries the record override this to save the read.
    async fn update_ticket_stored(
        &self,
        id: &str,
        update: &TicketUpdate,
    ) -> Result<Ticket, ConnectorError> {
        self.update_ticket(id, update).await?;
        self.get_ticket(id).await
    }

    /// The most characters this vendor keeps in ticket field `field`
    /// (`title`, `description`, or a connector-defined field name) when a
    /// longer value is cut rather than refused; `None` when nothing is cut.
    /// The bridge accepts a stored value that is the written one cut at
    /// exactly this length as the vendor's normalisation, not an edit.
    fn max_chars(&self, field: &str) -> Option<usize> {
        let _ = field;
        None
    }

    /// All comments of a ticket, oldest first, with bridge markers extracted.
    async fn list_comments(&self, ticket_id: &str) -> Result<Vec<Comment>, ConnectorError>;

    /// Adds a comment with the marker embedded; returns the new comment's id.
    async fn add_comment(
        &self,
        ticket_id: &str,
        comment: &NewComment,
    ) -> Result<String, ConnectorError>;

    /// Whether [`Connector::set_comment_visibility`] works for this vendor,
    /// so the planner can decide before planning the call (an operation that
    /// can only fail would dead-letter and block its ticket's queue).
    fn can_set_comment_visibility(&self) -> bool {
        false
    }

    /// Changes who can see an existing comment (the bridge uses it to make a
    /// mirror internal when its source became internal after it crossed).
    /// A missing comment gives [`ConnectorError::NotFound`]. Connectors that
    /// cannot change a note's visibility keep this default, a permanent error.
    async fn set_comment_visibility(
        &self,
        ticket_id: &str,
        comment_id: &str,
        visibility: Visibility,
    ) -> Result<(), ConnectorError> {
        let _ = (ticket_id, visibility);
        Err(ConnectorError::Config(format!(
            "the {} connector cannot change the visibility of note {comment_id}",
            self.vendor()
        )))
    }

    /// Tickets changed at or after `since` (all pages).
    async fn changed_since(&self, since: Timestamp) -> Result<Vec<ChangeHint>, ConnectorError>;

    /// Verifies a webhook's signature over the raw bytes and extracts change hints.
    async fn verify_webhook(
        &self,
        request: &WebhookRequest,
    ) -> Result<Vec<ChangeHint>, WebhookError>;

    /// Registers (or finds already registered) a webhook/callback pointing at `url`.
    async fn register_webhook(&self, url: &str) -> Result<(), ConnectorError>;

    /// What the vendor has registered for `url` and whether it still sends
    /// events through it (Autotask and ConnectWise deactivate hooks whose
    /// deliveries keep failing). Vendors where an administrator sets the
    /// notification up by hand keep this default: "cannot tell", with how to
    /// check by hand.
    async fn webhook_status(&self, url: &str) -> Result<WebhookStatus, ConnectorError> {
        Ok(WebhookStatus::unsupported(
            url,
            format!(
                "the {} connector cannot inspect its webhook on the vendor side",
                self.vendor()
            ),
        ))
    }

    /// Removes every hook pointing at `url`; returns how many were removed
    /// (0 when none was). Vendors where an administrator sets the
    /// notification up keep this default, a configuration error saying so.
    async fn remove_webhook(&self, url: &str) -> Result<usize, ConnectorError> {
        Err(ConnectorError::Config(format!(
            "the {} connector cannot remove its webhook at {url}: an administrator removes it on the vendor side",
            self.vendor()
        )))
    }

    /// Whether an authenticated notice that the vendor deactivated the
    /// bridge's webhook (Autotask's `Deactivated` action) arrived since the
    /// last call; reading clears it. The daemon then checks the status and
    /// re-registers at once.
    fn take_webhook_deactivated(&self) -> bool {
        false
    }

    /// The tenant's shared request budget, for connectors whose vendor
    /// shares one allowance among every integration (Autotask); `None` otherwise.
    fn budget(&self) -> Option<crate::webhooks::ApiBudget> {
        None
    }

    /// The connection's vendor-call counters ([`crate::http::HttpClient::stats`]),
    /// for the admin API and metrics; `None` for a connector without them.
    fn api_stats(&self) -> Option<crate::stats::ApiStats> {
        None
    }
}
