//! Ticket operations: discovery of boards/statuses/priorities, read, find by
//! marker (`externalXRef`), create, partial update (JSON-Patch), and polling.

use std::collections::BTreeMap;

use http::Method;
use psa_connector::{
    marker, Catalog, ChangeHint, ConnectorError, NewTicket, StatusInfo, Ticket, TicketUpdate,
    Timestamp,
};
use serde_json::{json, Value};

use crate::api::{cw_datetime, quote, CwTicket};
use crate::client::ConnectWiseConnector;

/// ConnectWise's limit on `summary`.
pub const SUMMARY_MAX_CHARS: usize = 100;

/// ConnectWise's limit on `externalXRef`, where the bridge's ticket marker
/// (`psa-bridge:<pairing>:<link id>`) lives: pairing names of up to 68
/// characters always fit.
pub const EXTERNAL_XREF_MAX_CHARS: usize = 100;

/// A marker that cannot be stored in `externalXRef` is a configuration
/// problem (the pairing name is too long), never worth a retry.
pub(crate) fn check_marker(marker: &str) -> Result<(), ConnectorError> {
    let n = marker.chars().count();
    if n > EXTERNAL_XREF_MAX_CHARS {
        return Err(ConnectorError::Config(format!(
            "the bridge marker {marker:?} has {n} characters but ConnectWise's externalXRef holds {EXTERNAL_XREF_MAX_CHARS}: shorten the pairing name"
        )));
    }
    Ok(())
}

/// Cuts a summary to 100 characters without splitting a character.
pub fn truncate_summary(summary: &str) -> String {
    summary.chars().take(SUMMARY_MAX_CHARS).collect()
}

/// ConnectWise ids are integers; anything else cannot exist.
pub(crate) fn parse_id(id: &str) -> Result<i64, ConnectorError> {
    id.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConnectorError::NotFound(format!("ticket {id:?}")))
}

impl ConnectWiseConnector {
    pub(crate) async fn to_ticket(&self, raw: CwTicket) -> Result<Ticket, ConnectorError> {
        let closed = self
            .cached_status_closed(
                raw.board.as_ref().and_then(|b| b.id),
                raw.status.as_ref().and_then(|s| s.id),
            )
            .await;
        let mut ticket = raw.into_ticket(closed);
        // A failed member lookup fails the read (retried like any read): a
        // ticket whose owner lost its e-mail would look reassigned.
        self.fill_person(&mut ticket).await?;
        Ok(ticket)
    }

    pub(crate) async fn do_discover(&self) -> Result<Catalog, ConnectorError> {
        let boards = self.boards(true).await?;
        let mut catalog = Catalog::default();
        for board in boards.iter().filter(|b| !b.inactive) {
            catalog.queues.push(board.name.clone());
            for status in self.statuses(board.id, true).await? {
                if status.inactive {
                    continue;
                }
                match catalog.statuses.iter_mut().find(|s| s.label == status.name) {
                    Some(known) => known.closed |= status.closed,
                    None => catalog.statuses.push(StatusInfo {
                        label: status.name,
                        closed: status.closed,
                    }),
                }
            }
        }
        catalog.priorities = self
            .priorities(true)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        Ok(catalog)
    }

    pub(crate) async fn raw_ticket(&self, id: &str) -> Result<CwTicket, ConnectorError> {
        let n = parse_id(id)?;
        match self
            .get::<CwTicket>(&format!("service/tickets/{n}"), &[])
            .await
        {
            Err(ConnectorError::Http { status: 404, .. }) => {
                Err(ConnectorError::NotFound(format!("ticket {n}")))
            }
            other => other,
        }
    }

    pub(crate) async fn do_get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        let raw = self.raw_ticket(id).await?;
        self.to_ticket(raw).await
    }

    pub(crate) async fn do_find_by_marker(
        &self,
        marker: &str,
    ) -> Result<Option<Ticket>, ConnectorError> {
        check_marker(marker)?;
        let conditions = format!("externalXRef={}", quote(marker));
        let mut found: Vec<CwTicket> = self
            .get_all(
                "service/tickets",
                &[("conditions", conditions), ("orderBy", "id asc".into())],
            )
            .await?;
        found.retain(|t| t.external_xref.as_deref().map(str::trim) == Some(marker));
        found.sort_by_key(|t| t.id);
        if found.len() > 1 {
            tracing::warn!(
                marker,
                count = found.len(),
                "several tickets carry one marker; adopting the oldest"
            );
        }
        match found.into_iter().next() {
            Some(raw) => Ok(Some(self.to_ticket(raw).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn do_create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        check_marker(&new.marker)?;
        let board_name = new.placement.get("board").ok_or_else(|| {
            ConnectorError::Config("ConnectWise tickets need placement \"board\"".into())
        })?;
        let company = new.placement.get("company").ok_or_else(|| {
            ConnectorError::Config("ConnectWise tickets need placement \"company\"".into())
        })?;
        let board_id = self.board_id(board_name).await?;
        let mut body = json!({
            "summary": truncate_summary(&new.title),
            "board": {"id": board_id},
            "company": company_ref(company),
            "externalXRef": new.marker,
        });
        if !new.description.trim().is_empty() {
            // ConnectWise turns the initial description into the ticket's first
            // note; the marker lets the bridge recognise that note as its own.
            body["initialDescription"] = json!(marker::embed(&new.description, &new.marker));
        }
        if let Some(status) = &new.status {
            body["status"] = json!({"id": self.status_id(board_id, status).await?});
        }
        if let Some(priority) = &new.priority {
            body["priority"] = json!({"id": self.priority_id(priority).await?});
        }
        if let Some(kind) = new.placement.get("type") {
            body["type"] = json!({"name": kind});
        }
        if let Some(kind) = new.placement.get("subtype") {
            body["subType"] = json!({"name": kind});
        }
        let (extra, rest) = self.owner_and_category_ops(&new.fields).await?;
        for op in extra {
            let (Some(path), Some(value)) = (op["path"].as_str(), op.get("value")) else {
                continue;
            };
            body[path] = value.clone();
        }
        for (name, value) in &rest {
            match name.as_str() {
                "owner" => body["owner"] = json!({"identifier": value}),
                other => return Err(unknown_field(other)),
            }
        }
        let url = self.api_url("service/tickets", &[]).await?;
        let raw: CwTicket = self.http.send_json(Method::POST, url, Some(&body)).await?;
        self.own_member.learn(raw.info.updated_by.as_deref());
        self.to_ticket(raw).await
    }

    /// PATCHes the changed fields. ConnectWise answers with the whole ticket
    /// as stored; that record comes back (`None` when there was nothing to
    /// write or the answer could not be read: the write itself succeeded).
    pub(crate) async fn do_update_ticket(
        &self,
        id: &str,
        update: &TicketUpdate,
    ) -> Result<Option<CwTicket>, ConnectorError> {
        let n = parse_id(id)?;
        if update.is_empty() {
            return Ok(None);
        }
        let (mut ops, rest) = self.owner_and_category_ops(&update.fields).await?;
        let mut board_id = None;
        for (name, value) in &rest {
            match name.as_str() {
                "owner" => ops.push(replace("owner", json!({"identifier": value}))),
                "company" => ops.push(replace("company", company_ref(value))),
                "board" => {
                    let id = self.board_id(value).await?;
                    board_id = Some(id);
                    ops.push(replace("board", json!({"id": id})));
                }
                other => return Err(unknown_field(other)),
            }
        }
        if let Some(title) = &update.title {
            ops.push(replace("summary", json!(truncate_summary(title))));
        }
        if let Some(status) = &update.status {
            let board = match board_id {
                Some(b) => b,
                None => self
                    .raw_ticket(id)
                    .await?
                    .board
                    .and_then(|b| b.id)
                    .ok_or_else(|| {
                        ConnectorError::InvalidResponse(format!("ticket {n} has no board id"))
                    })?,
            };
            ops.push(replace(
                "status",
                json!({"id": self.status_id(board, status).await?}),
            ));
        }
        if let Some(priority) = &update.priority {
            ops.push(replace(
                "priority",
                json!({"id": self.priority_id(priority).await?}),
            ));
        }
        let url = self.api_url(&format!("service/tickets/{n}"), &[]).await?;
        match self
            .http
            .send(Method::PATCH, url, Some(&Value::Array(ops)))
            .await
        {
            Err(ConnectorError::Http { status: 404, .. }) => {
                Err(ConnectorError::NotFound(format!("ticket {n}")))
            }
            Err(e) => Err(e),
            Ok(answer) => {
                let stored = answer.json::<CwTicket>().ok();
                if let Some(raw) = &stored {
                    self.own_member.learn(raw.info.updated_by.as_deref());
                }
                Ok(stored)
            }
        }
    }

    /// The update, and the ticket as stored: from the PATCH answer, read
    /// back only when that answer did not carry it.
    pub(crate) async fn do_update_ticket_stored(
        &self,
        id: &str,
        update: &TicketUpdate,
    ) -> Result<Ticket, ConnectorError> {
        match self.do_update_ticket(id, update).await? {
            Some(raw) => self.to_ticket(raw).await,
            None => self.do_get_ticket(id).await,
        }
    }

    pub(crate) async fn do_changed_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<ChangeHint>, ConnectorError> {
        let conditions = format!("lastUpdated >= [{}]", cw_datetime(since));
        let raw: Vec<CwTicket> = self
            .get_all(
                "service/tickets",
                &[
                    ("conditions", conditions),
                    ("orderBy", "id asc".into()),
                    ("fields", "id,_info/lastUpdated".into()),
                ],
            )
            .await?;
        let mut seen = BTreeMap::new();
        for t in raw {
            // Whole-second watermarks: drop anything the server should not have sent.
            if t.info
                .last_updated
                .is_some_and(|at| at < since - chrono::Duration::seconds(1))
            {
                continue;
            }
            seen.insert(t.id, t.info.last_updated);
        }
        Ok(seen
            .into_iter()
            .map(|(id, at)| ChangeHint {
                ticket_id: id.to_string(),
                updated_at: at,
                dedup_key: format!(
                    "connectwise:poll:{id}:{}",
                    at.map(cw_datetime).unwrap_or_default()
                ),
                detail: Default::default(),
            })
            .collect())
    }
}

fn replace(path: &str, value: Value) -> Value {
    json!({"op": "replace", "path": path, "value": value})
}

/// Companies are placed by identifier ("ACME"), or by id when numeric.
fn company_ref(company: &str) -> Value {
    match company.trim().parse::<i64>() {
        Ok(id) => json!({"id": id}),
        Err(_) => json!({"identifier": company.trim()}),
    }
}

fn unknown_field(name: &str) -> ConnectorError {
    ConnectorError::UnknownValue {
        kind: "field",
        label: name.to_string(),
        valid: "owner, company, board".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_is_char_safe() {
        let long = "é".repeat(150);
        let cut = truncate_summary(&long);
        assert_eq!(cut.chars().count(), 100);
        assert_eq!(truncate_summary("short"), "short");
    }

    #[test]
    fn ids_must_be_numbers() {
        assert!(matches!(
            parse_id("12/../x"),
            Err(ConnectorError::NotFound(_))
        ));
        assert_eq!(parse_id(" 42 ").unwrap(), 42);
    }
}
