//! What a person does at a ticketing system in the demo story, behind one
//! trait ([`Desk`]) with an implementation per simulator, so the same story
//! plays with any internal system and any MSP system. Ids and numbers are
//! strings here; each desk converts to its simulator's own types.

mod autotask;
mod connectwise;
mod jira;
mod servicenow;

pub use autotask::AutotaskDesk;
pub use connectwise::ConnectWiseDesk;
pub use jira::JiraDesk;
pub use servicenow::ServiceNowDesk;

/// One ticket as a person at the desk sees it.
#[derive(Clone, Debug)]
pub struct DeskTicket {
    pub id: String,
    pub number: String,
    pub title: String,
    pub status: String,
    pub priority: String,
    /// Where the bridge says the ticket went (the far side's number), once it says so.
    pub far_number: Option<String>,
    /// Placement for narration (board, queue or assignment group).
    pub placement: String,
}

/// One note or comment as shown in the UI.
#[derive(Clone, Debug)]
pub struct DeskNote {
    pub text: String,
    /// Customer-visible.
    pub public: bool,
}

/// A person's actions at one ticketing system, and what they can read there.
pub trait Desk: Send + Sync {
    /// Product name, for narration.
    fn system(&self) -> &'static str;
    /// Opens a ticket in the UI.
    fn open(&self, title: &str, description: &str, priority: &str) -> DeskTicket;
    /// Hands a ticket to the MSP the way the demo mapping's trigger expects.
    fn escalate(&self, id: &str);
    /// How [`Desk::escalate`] of ticket `number` reads in narration.
    fn escalation(&self, number: &str) -> String;
    fn ticket(&self, id: &str) -> Option<DeskTicket>;
    /// The id of the ticket with this number (as written back to the other side).
    fn id_of_number(&self, number: &str) -> Option<String>;
    fn set_status(&self, id: &str, status: &str);
    fn set_priority(&self, id: &str, priority: &str);
    fn add_note(&self, id: &str, text: &str, public: bool, author: &str);
    /// A customer-visible note that records the resolution.
    fn add_resolution(&self, id: &str, text: &str, author: &str);
    fn notes(&self, id: &str) -> Vec<DeskNote>;
    /// Successful ticket and note writes by the bridge's API user (webhook
    /// registration not counted).
    fn bridge_writes(&self) -> usize;
    /// Number of tickets the system holds.
    fn ticket_count(&self) -> usize;
}

/// A numeric simulator id from a desk id (`-1`, which no ticket has, when it is not a number).
fn numeric(id: &str) -> i64 {
    id.parse().unwrap_or(-1)
}
