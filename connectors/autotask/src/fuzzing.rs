//! Entry points for the fuzz targets in `fuzz/` and the property tests in
//! `tests/proptest_hostile.rs`: the pure steps that turn what an Autotask
//! zone answers into the model, callable without a network. Each one runs
//! the same code the connector runs on a real answer. Not a stable API.
//!
//! Webhooks need no entry point here: [`psa_connector::Connector::verify_webhook`]
//! on an [`AutotaskConnector`] does no network I/O.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use psa_connector::http::HttpResponse;
use psa_connector::{ChangeHint, Comment, ConnectorError, Ticket};

use crate::client::AutotaskConnector;
use crate::picklists::EntityPicklists;
use crate::wire::{self, FieldsResponse, ItemResponse, QueryCount, QueryPage, WireNote};
use crate::{default_limits, AutotaskSettings};

/// A 200 answer carrying `body`, read as the HTTP client reads it.
fn answer(body: &[u8]) -> HttpResponse {
    HttpResponse {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::copy_from_slice(body),
    }
}

/// A connector with default settings (no network is touched by these steps).
fn connector() -> &'static AutotaskConnector {
    static CONNECTOR: OnceLock<AutotaskConnector> = OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let mut settings = AutotaskSettings::new("fuzz@example.invalid", "secret", "code");
        settings.api_url = Some("https://autotask.example.invalid/".into());
        match AutotaskConnector::new(settings, default_limits(), Duration::from_secs(1)) {
            Ok(c) => c,
            // Fixed, valid settings: cannot fail.
            Err(e) => unreachable!("fuzzing connector: {e}"),
        }
    })
}

fn picklists(fields: &[u8]) -> Result<EntityPicklists, ConnectorError> {
    let response: FieldsResponse = answer(fields).json()?;
    Ok(EntityPicklists::from_response(response))
}

/// `Tickets/entityInformation/fields` then `GET Tickets/{id}`, as `get_ticket` reads them.
pub fn ticket(fields: &[u8], body: &[u8]) -> Result<Ticket, ConnectorError> {
    let lists = picklists(fields)?;
    let item: ItemResponse = answer(body).json()?;
    let item = match item.item {
        None | Some(serde_json::Value::Null) => {
            return Err(ConnectorError::NotFound("ticket".into()))
        }
        Some(v) => v,
    };
    let wire = wire::from_item("ticket", item)?;
    connector().to_ticket(&lists, wire)
}

/// Note picklists then one page of `Tickets/{id}/Notes`, as `list_comments` reads them
/// (authors are looked up by the connector separately; here none).
pub fn notes(fields: &[u8], page: &[u8]) -> Result<Vec<Comment>, ConnectorError> {
    let lists = picklists(fields)?;
    let page: QueryPage = answer(page).json()?;
    let mut comments = Vec::with_capacity(page.items.len());
    for item in page.items {
        let note: WireNote = wire::from_item("ticket note", item)?;
        comments.push(connector().comment_from(&lists, note, None));
    }
    crate::notes::sort_comments(&mut comments);
    Ok(comments)
}

/// One page of the polling query as change hints, and the page's `nextPageUrl`.
pub fn poll(page: &[u8]) -> Result<(Vec<ChangeHint>, Option<String>), ConnectorError> {
    let page: QueryPage = answer(page).json()?;
    let next = page.page_details.and_then(|d| d.next_page_url);
    let hints = page
        .items
        .into_iter()
        .map(crate::polling::poll_hint)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((hints, next))
}

/// `query/count` and the page cap the paging walk derives from it.
pub fn count(body: &[u8], page_len: u64) -> Result<u64, ConnectorError> {
    let count: QueryCount = answer(body).json()?;
    Ok(crate::paging::counted_cap(
        count.query_count,
        page_len,
        crate::paging::MAX_QUERY_PAGES,
    ))
}

/// A resource answer as the note author's display name.
pub fn resource_name(body: &[u8]) -> Result<Option<String>, ConnectorError> {
    let item: ItemResponse = answer(body).json()?;
    let item = item.item.unwrap_or_default();
    let resource = wire::from_item("resource", item)?;
    Ok(crate::resources::display_name(&resource))
}

/// An error answer as the error the connector reports (message, then the
/// refusal classification).
pub fn error(status: u16, body: &[u8]) -> ConnectorError {
    crate::errors::classify(ConnectorError::Http {
        status,
        message: wire::error_message(status, body),
        retry_after: None,
    })
}
