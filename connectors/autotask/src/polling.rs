//! Polling for changes: tickets whose `lastTrackedModificationDateTime`
//! moved, and tickets that gained (or had edited) a note.
//!
//! Whether a new note moves its ticket's `lastTrackedModificationDateTime` is
//! unconfirmed, so notes are looked up on their own (`TicketNotes/query` by
//! `createDateTime` or `lastActivityDate`): polling alone never misses a note,
//! whatever the tenant does with the ticket's watermark.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use psa_connector::{ChangeHint, ConnectorError, Timestamp};
use serde::Deserialize;
use serde_json::json;

use crate::client::{AutotaskConnector, MAX_RECORDS};
use crate::wire::{self, WireTicket};

/// The parts of a note the poll reads.
#[derive(Debug, Deserialize)]
struct PolledNote {
    #[serde(alias = "Id")]
    id: i64,
    #[serde(rename = "ticketID", alias = "TicketID")]
    ticket_id: i64,
    #[serde(default, rename = "createDateTime", alias = "CreateDateTime")]
    created: Option<String>,
    #[serde(default, rename = "lastActivityDate", alias = "LastActivityDate")]
    last_activity: Option<String>,
}

fn stamp(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl AutotaskConnector {
    pub(crate) async fn changed(
        &self,
        since: Timestamp,
    ) -> Result<Vec<ChangeHint>, ConnectorError> {
        let since_text = since.to_rfc3339_opts(SecondsFormat::Millis, true);
        let body = json!({
            "filter": [{"op": "gte", "field": "lastTrackedModificationDateTime", "value": since_text}],
            "MaxRecords": MAX_RECORDS,
            "IncludeFields": ["id", "lastTrackedModificationDateTime", "lastActivityDate"],
        });
        let items = self.query_all("Tickets/query", Some(&body)).await?;
        let mut hints = Vec::with_capacity(items.len());
        let mut reported: BTreeMap<i64, Option<DateTime<Utc>>> = BTreeMap::new();
        for item in items {
            let wire: WireTicket = wire::from_item("ticket", item)?;
            let updated = [&wire.last_tracked, &wire.last_activity]
                .into_iter()
                .flatten()
                .find_map(|t| wire::parse_time(t));
            reported.insert(wire.id, updated);
            hints.push(ChangeHint {
                ticket_id: wire.id.to_string(),
                updated_at: updated,
                dedup_key: format!("autotask:poll:{}:{}", wire.id, stamp(updated)),
            });
        }
        hints.extend(self.noted_since(&since_text, &reported).await?);
        Ok(hints)
    }

    /// One hint per ticket with a note created or changed since `since`,
    /// unless the ticket query already reported that ticket as recent.
    async fn noted_since(
        &self,
        since: &str,
        reported: &BTreeMap<i64, Option<DateTime<Utc>>>,
    ) -> Result<Vec<ChangeHint>, ConnectorError> {
        let body = json!({
            "filter": [{"op": "or", "items": [
                {"op": "gte", "field": "createDateTime", "value": since},
                {"op": "gte", "field": "lastActivityDate", "value": since},
            ]}],
            "MaxRecords": MAX_RECORDS,
            "IncludeFields": ["id", "ticketID", "createDateTime", "lastActivityDate"],
        });
        let items = self.query_all("TicketNotes/query", Some(&body)).await?;
        // Latest note per ticket: (time, note id).
        let mut latest: BTreeMap<i64, (Option<DateTime<Utc>>, i64)> = BTreeMap::new();
        for item in items {
            let note: PolledNote = wire::from_item("ticket note", item)?;
            let at = [&note.last_activity, &note.created]
                .into_iter()
                .flatten()
                .filter_map(|t| wire::parse_time(t))
                .max();
            let entry = latest.entry(note.ticket_id).or_insert((at, note.id));
            if (at, note.id) > *entry {
                *entry = (at, note.id);
            }
        }
        let mut hints = Vec::new();
        for (ticket, (at, note)) in latest {
            let covered = reported
                .get(&ticket)
                .is_some_and(|t| t.is_some() && *t >= at);
            if covered {
                continue;
            }
            hints.push(ChangeHint {
                ticket_id: ticket.to_string(),
                updated_at: at,
                dedup_key: format!("autotask:poll-note:{ticket}:{note}:{}", stamp(at)),
            });
        }
        Ok(hints)
    }
}
