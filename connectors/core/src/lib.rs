//! The connector contract shared by every psa-bridge connector.
//!
//! A connector is the only place that knows a vendor's API. The daemon talks to
//! every vendor through the [`Connector`] trait using the vendor-neutral model in
//! [`model`]; errors say whether a retry can help ([`ConnectorError::retry_action`]).
//! [`http`] wraps `reqwest` with per-connection rate limiting ([`limits`]) so no
//! connector can forget it. [`sim`] holds what every vendor simulator shares
//! (fault knobs, 429 throttling, request counting) and [`compliance`] is the kit
//! every connector must pass against its simulator.

pub mod compliance;
pub mod connector;
pub mod error;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod hostile;
pub mod http;
pub mod limits;
pub mod marker;
pub mod model;
pub mod people;
pub mod probe;
pub mod sim;
pub mod stats;
pub mod transport;
pub mod webhooks;

pub use connector::{Connector, WebhookRequest};
pub use error::{ConnectorError, RetryAction, WebhookError};
pub use limits::{RateLimiter, RateLimits};
pub use model::*;
pub use stats::{ApiStats, ApiStatsSnapshot};
pub use webhooks::{ApiBudget, BudgetState, VendorHook, WebhookStatus};
