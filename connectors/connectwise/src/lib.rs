//! ConnectWise PSA (Manage) for psa-bridge: the REST connector
//! ([`ConnectWiseConnector`]) and a stateful simulator of its API and
//! callbacks ([`sim::ConnectWiseSim`]) for tests, demos and benchmarks.
//!
//! Vendor facts follow `docs/vendors/connectwise.md`: Basic auth
//! `company+public:private` plus a `clientId` header, codebase discovery via
//! `login/companyinfo`, `conditions` filters, JSON-Patch updates, notes with
//! discussion/internal/resolution flags, and callbacks signed with
//! `HMAC-SHA256(SHA256(signing_key), body)`.

mod api;
mod callback_status;
mod client;
mod connector;
mod discovery;
#[doc(hidden)]
pub mod fuzzing;
mod hint_detail;
mod hosts;
mod keys;
mod notes;
mod paging;
mod people;
mod settings;
pub mod sim;
mod tickets;
mod webhook;

pub use api::error_message;
pub use client::ConnectWiseConnector;
pub use settings::{default_limits, ConnectWiseSettings, DEFAULT_API_VERSION};
pub use sim::{ConnectWiseSim, ConnectWiseSimOptions, SimNote, SimNoteKind, SimTicket};
pub use tickets::{truncate_summary, EXTERNAL_XREF_MAX_CHARS, SUMMARY_MAX_CHARS};
pub use webhook::{key_digest, sign, SIGNATURE_HEADER};
