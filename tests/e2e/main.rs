//! End-to-end tests: the real `psa-bridge` binary against the Autotask and
//! ConnectWise simulators, over HTTP on loopback. One test binary, one module
//! per concern.

mod admin;
mod audit;
mod check;
mod common;
mod conflict;
mod crash;
mod edits;
mod rate;
mod registration;
mod retries;
mod secrets;
mod simulate;
mod story;
mod supervision;
mod visibility;
mod webhooks;
