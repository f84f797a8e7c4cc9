//! Jira Cloud and Jira Service Management for psa-bridge: the REST v3
//! connector ([`JiraConnector`]: issues with explicit fields, status
//! through workflow transitions, ADF both ways, JSM public/internal
//! comments, `search/jql` polling, signed admin webhooks) and a stateful
//! simulator of the API ([`sim::JiraSim`]).
//!
//! Vendor facts follow `docs/vendors/jira.md`.

pub mod adf;
mod client;
mod comments;
mod connector;
mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod hook_status;
mod hooks;
mod issue_type;
mod issues;
mod people;
mod search;
mod settings;
pub mod sim;
mod transitions;
pub mod webhook;

/// The issue property holding the bridge's idempotency marker
/// (`{"marker": "…"}`), searchable as `issue.property[psa-bridge].marker`.
pub const MARKER_PROPERTY: &str = "psa-bridge";

pub use client::JiraConnector;
pub use errors::error_message;
pub use hooks::EVENTS;
pub use issues::SUMMARY_MAX_CHARS;
pub use settings::{default_limits, JiraSettings};
pub use sim::{Exchange, JiraSim, JiraSimOptions, SimComment, SimIssue};
