//! Jira Cloud and Jira Service Management for psa-bridge: Atlassian
//! Document Format conversion ([`adf`]), webhook signatures ([`webhook`])
//! and a stateful simulator of the REST API ([`sim::JiraSim`]).

pub mod adf;
pub mod sim;
pub mod webhook;

/// The issue property holding the bridge's idempotency marker
/// (`{"marker": "…"}`), searchable as `issue.property[psa-bridge].marker`.
pub const MARKER_PROPERTY: &str = "psa-bridge";

pub use sim::{JiraSim, JiraSimOptions, SimComment, SimIssue};
