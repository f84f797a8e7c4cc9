//! Intake: webhook receiver and pollers. Both write change notices durably to
//! the inbox with a dedup key, flush, and only then acknowledge (2xx) or
//! advance the poll cursor.

mod enqueue;
mod poller;
mod prune;
mod slots;
mod webhook;

pub use enqueue::{enqueue, Enqueued};
pub use poller::{poll_since, run_poller};
pub use prune::{prune_dedup, run_pruner, DEDUP_RETENTION};
pub use webhook::{router, WebhookLimits, WebhookState};
