//! Building each configured connection's connector.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use psa_connector::{Connector, ConnectorError, RateLimits};

use crate::config::{ConnectionConfig, Vendor};
use crate::engine::Connection;

/// Builds the connector of one connection (no network is touched).
pub fn build_connector(
    name: &str,
    config: &ConnectionConfig,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    let timeout = Duration::from_secs(config.timeout_secs);
    let missing = || {
        ConnectorError::Config(format!(
            "connection {name}: missing [connections.{name}.{}]",
            config.vendor.get_ref().as_str()
        ))
    };
    Ok(match config.vendor.get_ref() {
        Vendor::Autotask => {
            let settings = config.autotask.clone().ok_or_else(missing)?;
            let limits = config
                .limits
                .clone()
                .unwrap_or_else(psa_autotask::default_limits);
            Arc::new(psa_autotask::AutotaskConnector::new(
                settings, limits, timeout,
            )?)
        }
        Vendor::Connectwise => {
            let settings = config.connectwise.clone().ok_or_else(missing)?;
            let limits = config
                .limits
                .clone()
                .unwrap_or_else(psa_connectwise::default_limits);
            Arc::new(psa_connectwise::ConnectWiseConnector::new(
                settings, limits, timeout,
            )?)
        }
        Vendor::Servicenow => {
            let settings = config.servicenow.clone().ok_or_else(missing)?;
            let limits = config
                .limits
                .clone()
                .unwrap_or_else(psa_servicenow::default_limits);
            Arc::new(psa_servicenow::ServiceNowConnector::with_limits(
                settings, limits, timeout,
            )?)
        }
        Vendor::Jira => {
            let settings = config.jira.clone().ok_or_else(missing)?;
            let limits = config
                .limits
                .clone()
                .unwrap_or_else(psa_jira::default_limits);
            Arc::new(psa_jira::JiraConnector::new(settings, limits, timeout)?)
        }
    })
}

/// The rate limits a connection runs with: `[connections.X.limits]`, else
/// its vendor's defaults (what [`build_connector`] gives the connector).
pub fn effective_limits(config: &ConnectionConfig) -> RateLimits {
    config
        .limits
        .clone()
        .unwrap_or_else(|| match config.vendor.get_ref() {
            Vendor::Autotask => psa_autotask::default_limits(),
            Vendor::Connectwise => psa_connectwise::default_limits(),
            Vendor::Servicenow => psa_servicenow::default_limits(),
            Vendor::Jira => psa_jira::default_limits(),
        })
}

/// All connections of a configuration, by name.
pub fn build_all(
    connections: &std::collections::BTreeMap<String, ConnectionConfig>,
) -> Result<HashMap<String, Connection>, ConnectorError> {
    connections
        .iter()
        .map(|(name, config)| {
            let connector = build_connector(name, config)?;
            Ok((
                name.clone(),
                Connection {
                    name: name.clone(),
                    connector,
                },
            ))
        })
        .collect()
}
