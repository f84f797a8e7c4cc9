//! Jira Cloud and Jira Service Management for psa-bridge: Atlassian
//! Document Format conversion ([`adf`]).

pub mod adf;
