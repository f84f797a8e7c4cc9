//! ServiceNow (Table API) connector for psa-bridge, and a stateful HTTP
//! simulator of the same API for tests, demos and benchmarks.
//!
//! Vendor facts live in `docs/vendors/servicenow.md`; this crate follows them.

pub mod signature;
pub mod sim;

pub use sim::{ServiceNowSim, ServiceNowSimOptions, SimIncident, SimJournalEntry};
