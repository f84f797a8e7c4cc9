//! Autotask PSA (REST API v1.0) connector for psa-bridge, and a stateful HTTP
//! simulator of the same API for tests, demos and benchmarks.
//!
//! Vendor facts live in `docs/vendors/autotask.md`; this crate follows them:
//! zone discovery, `ApiIntegrationCode`/`UserName`/`Secret` headers, picklists
//! discovered by label, the bridge's marker in a ticket UDF, paged queries
//! (500 per page, `nextPageUrl` POSTed again), note authors' names from
//! `Resources/{id}` (cached), and webhooks signed with HMAC-SHA1 over
//! Autotask's `\uXXXX`-escaped bodies.

mod budget;
mod client;
mod connector;
mod errors;
pub mod escape;
#[doc(hidden)]
pub mod fuzzing;
mod hook_status;
pub mod hooks;
mod notes;
mod paging;
mod people;
mod picklists;
mod polling;
mod register;
mod resources;
mod settings;
mod tickets;
mod wire;

pub use client::AutotaskConnector;
pub use settings::{default_limits, AutotaskSettings};
pub mod sim;

pub use sim::{AutotaskSim, AutotaskSimOptions, SimApiUser, SimNote, SimTicket};
