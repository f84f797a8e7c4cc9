//! Delivery: per-connection workers that take outbox operations FIFO per
//! ticket (parallel across tickets), call the connector through the
//! connection's rate limiter, and record the outcome atomically: done, retry
//! later (on the schedule of [`crate::retry`], `Retry-After` honoured), or
//! dead letter with the vendor's message; a linked ticket found gone unlinks
//! ([`gone`]). A paused pairing's operations are
//! held where they are ([`hold`]). A dead letter holds back the
//! operations queued behind it for the same ticket until an operator retries
//! it ([`requeue`]).

mod apply;
#[cfg(test)]
mod apply_tests;
mod attempt;
#[cfg(test)]
mod attempt_tests;
mod gone;
mod hold;
#[cfg(test)]
mod hold_tests;
mod normalise;
mod outcome;
mod requeue;
mod worker;

#[cfg(test)]
pub(crate) use apply::Delivered;
pub use requeue::{blocked_by, Retried};
#[cfg(test)]
pub(crate) use worker::deliver_round;
pub use worker::{run_delivery, run_delivery_until, DrainTally, Drained};

#[cfg(test)]
mod drain_tests;
#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod tests;
