//! End-to-end tests: the real `psa-bridge` binary against the Autotask and
//! ConnectWise simulators, over HTTP on loopback. One test binary, one module
//! per concern.

mod audit;
mod check;
mod common;
mod conflict;
mod crash;
mod dead_letters;
mod edits;
mod faults;
mod rate;
mod retries;
mod simulate;
mod story;
mod visibility;
mod webhooks;
