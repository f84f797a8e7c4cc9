//! End-to-end tests: the real `psa-bridge` binary against the Autotask and
//! ConnectWise simulators, over HTTP on loopback. One test binary, one module
//! per concern.

mod ambiguous;
mod audit;
mod chaos;
mod check;
mod close;
mod common;
mod conflict;
mod crash;
mod dead_letters;
mod edits;
mod faults;
mod listener;
mod order;
mod rate;
mod retries;
mod simulate;
mod story;
mod trigger;
mod visibility;
mod webhooks;
