//! Polling for changes: one `Tickets/query` for tickets whose
//! `lastTrackedModificationDateTime` OR `lastActivityDate` moved since the
//! cursor (an `{"op":"or","items":[…]}` filter group).
//!
//! Whether a new note moves its ticket's `lastTrackedModificationDateTime`
//! is unconfirmed; a note does move the ticket's `lastActivityDate` (the
//! ticket's "last activity"), so the `or` on both stamps finds tickets that
//! only gained or had edited a note, in the same single query: polling alone
//! never misses a note, at one request per poll of the tenant's shared
//! hourly budget.

use chrono::{DateTime, SecondsFormat, Utc};
use psa_connector::{ChangeHint, ConnectorError, Timestamp};
use serde_json::{json, Value};

use crate::client::{AutotaskConnector, MAX_RECORDS};
use crate::wire::{self, WireTicket};

fn stamp(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The poll's query: tickets with either stamp at or after `since`.
fn changed_query(since: &str) -> Value {
    json!({
        "filter": [{"op": "or", "items": [
            {"op": "gte", "field": "lastTrackedModificationDateTime", "value": since},
            {"op": "gte", "field": "lastActivityDate", "value": since},
        ]}],
        "MaxRecords": MAX_RECORDS,
        "IncludeFields": ["id", "lastTrackedModificationDateTime", "lastActivityDate"],
    })
}

impl AutotaskConnector {
    pub(crate) async fn changed(
        &self,
        since: Timestamp,
    ) -> Result<Vec<ChangeHint>, ConnectorError> {
        let since_text = since.to_rfc3339_opts(SecondsFormat::Millis, true);
        let items = self
            .query_all("Tickets/query", Some(&changed_query(&since_text)))
            .await?;
        items.into_iter().map(poll_hint).collect()
    }
}

/// One polled ticket as a change hint.
pub(crate) fn poll_hint(item: Value) -> Result<ChangeHint, ConnectorError> {
    let wire: WireTicket = wire::from_item("ticket", item)?;
    // The later stamp: a note moves only lastActivityDate, and the
    // hint must not look older than the change it announces.
    let updated = [&wire.last_tracked, &wire.last_activity]
        .into_iter()
        .flatten()
        .filter_map(|t| wire::parse_time(t))
        .max();
    Ok(ChangeHint {
        ticket_id: wire.id.to_string(),
        updated_at: updated,
        dedup_key: format!("autotask:poll:{}:{}", wire.id, stamp(updated)),
        detail: Default::default(),
    })
}
