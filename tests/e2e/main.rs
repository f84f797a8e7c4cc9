//! End-to-end tests: the real `psa-bridge` binary against the Autotask,
//! ConnectWise and ServiceNow simulators, over HTTP on loopback. One test binary, one module
//! per concern.

mod admin;
mod ambiguous;
mod api_input;
mod api_links;
mod api_openapi;
mod api_outbox;
mod api_status;
mod api_steps;
mod audit;
mod campaign;
mod chaos;
mod check;
mod close;
mod common;
mod conflict;
mod crash;
mod dashboard;
mod dead_letters;
mod edits;
mod fault_injection;
mod faults;
mod file_modes;
mod jira;
mod listener;
mod order;
mod rate;
mod registration;
mod replay;
mod retries;
mod secrets;
mod servicenow;
mod servicenow_rules;
mod shutdown;
mod simulate;
mod soak;
mod steps;
mod store_faults;
mod story;
mod supervision;
mod trigger;
mod visibility;
mod webhooks;
mod workload;
