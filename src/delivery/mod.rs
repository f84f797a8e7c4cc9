//! Delivery: per-connection workers that take outbox operations FIFO per
//! ticket (parallel across tickets), call the connector through the
//! connection's rate limiter, and record the outcome atomically: done, retry
//! later (stored attempt count and next-attempt time, `Retry-After` honoured),
//! or dead letter with the vendor's message.

mod apply;
mod outcome;
mod schedule;
mod worker;

pub use schedule::{retry_delay, MAX_ATTEMPTS};
pub use worker::run_delivery;
