//! Polling: records of the table changed at or after a time,
//! `sys_updated_on>=…^ORDERBYsys_updated_on^ORDERBYsys_id`, offset paged.
//! Journal writes update their record, so new comments are covered too.

use psa_connector::{ChangeHint, ConnectorError, Timestamp};

use crate::client::ServiceNowConnector;
use crate::wire::{format_time, parse_time, Record};

impl ServiceNowConnector {
    pub(crate) async fn changed(
        &self,
        since: Timestamp,
    ) -> Result<Vec<ChangeHint>, ConnectorError> {
        // Whole seconds: `>=` on the second `since` falls in.
        let query = format!(
            "sys_updated_on>={}^ORDERBYsys_updated_on^ORDERBYsys_id",
            format_time(since)
        );
        let rows = self
            .list_all(
                &self.settings.table,
                &query,
                "sys_id,sys_updated_on,sys_mod_count",
                false,
            )
            .await?;
        poll_hints(&rows, since)
    }
}

/// Polled rows as change hints; rows older than `since` (an instance that
/// ignored the filter) are skipped.
pub(crate) fn poll_hints(
    rows: &[serde_json::Value],
    since: Timestamp,
) -> Result<Vec<ChangeHint>, ConnectorError> {
    let mut hints = Vec::with_capacity(rows.len());
    for row in rows {
        let r = Record::new(row, "record")?;
        let id = r.required("sys_id", "record")?;
        let stamp = r.value("sys_updated_on");
        let updated_at = parse_time(&stamp);
        if updated_at.is_some_and(|t| t + chrono::Duration::seconds(1) <= since) {
            continue; // an instance that ignored the filter
        }
        hints.push(ChangeHint {
            dedup_key: format!("servicenow:poll:{id}:{stamp}:{}", r.value("sys_mod_count")),
            ticket_id: id,
            updated_at,
            detail: Default::default(),
        });
    }
    Ok(hints)
}
