//! ServiceNow (Table API) connector for psa-bridge, and a stateful HTTP
//! simulator of the same API for tests, demos and benchmarks.
//!
//! Vendor facts live in `docs/vendors/servicenow.md`; this crate follows them:
//! records of a configurable table (`incident` by default) with string
//! values, states by label with their data-policy guards, priority written
//! as impact + urgency, the journal in `sys_journal_field`, the bridge's
//! marker in `correlation_id`, Basic or OAuth auth, and notifications signed
//! per the bridge's own receiver contract ([`signature`]).

mod auth;
mod choices;
mod client;
mod connector;
mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod journal;
mod paging;
mod people;
mod polling;
mod refs;
mod settings;
pub mod signature;
pub mod sim;
mod tickets;
mod webhook;
mod wire;

pub use auth::Clock;
pub use client::ServiceNowConnector;
pub use settings::{default_limits, AuthMethod, ImpactUrgency, ServiceNowSettings};
pub use sim::{ServiceNowSim, ServiceNowSimOptions, SimIncident, SimJournalEntry};
pub use webhook::MAX_NOTICE_BYTES;
