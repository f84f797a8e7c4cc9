//! Entry points for the fuzz targets in `fuzz/` and the property tests in
//! `tests/proptest_hostile.rs`: the pure steps that turn what a ServiceNow
//! instance answers into the model, callable without a network. Each one
//! runs the code the connector runs. Not a stable API.
//!
//! Notifications need no entry point here:
//! [`psa_connector::Connector::verify_webhook`] on a [`ServiceNowConnector`]
//! does no network I/O ([`connector`] builds one with a fixed clock).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use psa_connector::http::HttpResponse;
use psa_connector::{ChangeHint, Comment, ConnectorError, Ticket};
use serde_json::Value;

use crate::{default_limits, ServiceNowConnector, ServiceNowSettings};

/// The secret of [`connector`]'s notifications.
pub const WEBHOOK_SECRET: &str = "fuzz-notification-secret";

/// The instant [`connector`]'s clock always shows (2026-11-19T12:00:00Z).
pub const NOW: i64 = 1_795_089_600;

/// A 200 answer carrying `body`, read as the HTTP client reads it.
fn answer(body: &[u8]) -> HttpResponse {
    HttpResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::copy_from_slice(body),
    }
}

/// A Basic-auth connector on the `incident` table whose notifications are
/// signed with [`WEBHOOK_SECRET`] and whose clock stands at [`NOW`].
pub fn connector() -> &'static ServiceNowConnector {
    static CONNECTOR: OnceLock<ServiceNowConnector> = OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let mut settings =
            ServiceNowSettings::basic("https://fuzz.service-now.example/", "user", "password");
        settings.webhook_secret = Some(WEBHOOK_SECRET.into());
        let now = DateTime::<Utc>::from_timestamp(NOW, 0).unwrap_or_default();
        match ServiceNowConnector::with_clock(
            settings,
            default_limits(),
            Duration::from_secs(1),
            Arc::new(move || now),
        ) {
            Ok(c) => c,
            // Fixed, valid settings: cannot fail.
            Err(e) => unreachable!("fuzzing connector: {e}"),
        }
    })
}

/// `GET {table}/{sys_id}` (display values) as a ticket.
pub fn ticket(body: &[u8]) -> Result<Ticket, ConnectorError> {
    let result = ServiceNowConnector::result(&answer(body))?;
    connector().ticket_from(&result)
}

/// A list answer's `result` array.
fn rows(body: &[u8]) -> Result<Vec<Value>, ConnectorError> {
    match ServiceNowConnector::result(&answer(body))? {
        Value::Array(rows) => Ok(rows),
        _ => Err(ConnectorError::InvalidResponse(
            "a list answer whose result is not an array".into(),
        )),
    }
}

/// One page of `sys_journal_field` as comments.
pub fn journal(body: &[u8]) -> Result<Vec<Comment>, ConnectorError> {
    crate::journal::journal_comments(&rows(body)?)
}

/// One page of the polling query as change hints (polled since [`NOW`]
/// minus an hour).
pub fn poll(body: &[u8]) -> Result<Vec<ChangeHint>, ConnectorError> {
    let since = DateTime::<Utc>::from_timestamp(NOW - 3600, 0).unwrap_or_default();
    crate::polling::poll_hints(&rows(body)?, since)
}

/// An error answer as the error the connector reports.
pub fn error(status: u16, body: &[u8]) -> ConnectorError {
    crate::errors::classify(ConnectorError::Http {
        status,
        message: crate::errors::error_message(status, body),
        retry_after: None,
    })
}
