//! Offset paging over a Table API list: `sysparm_limit` / `sysparm_offset`
//! with the query's stable order, bounded and cycle-safe.
//!
//! Consecutive pages overlap by [`PAGE_OVERLAP`] records: a record updated
//! while the walk runs moves to the end of a `sys_updated_on` order, which
//! shifts the records after it one place forward, and without the overlap
//! the record at a page boundary would be skipped. Records read twice are
//! kept once, as last read.
//!
//! The walk stops at a short page. It never reads more pages than
//! `X-Total-Count` needs (plus slack for records added meanwhile) or than a
//! hard cap, and a page made only of records already read (an instance that
//! ignores the offset) is an error, not an endless loop. The pages of one
//! walk together are read up to [`psa_connector::http::MAX_LISTING_BYTES`].

use std::collections::HashMap;

use http::Method;
use psa_connector::http::ListingBudget;
use psa_connector::ConnectorError;
use serde_json::Value;

use crate::client::ServiceNowConnector;

/// Records per page.
pub(crate) const PAGE_SIZE: usize = 500;
/// Records each page repeats from the page before.
pub(crate) const PAGE_OVERLAP: usize = 20;
/// How far each page moves the offset.
const STEP: usize = PAGE_SIZE - PAGE_OVERLAP;
/// Most pages one walk may span.
const MAX_PAGES: usize = 2_000;
/// Pages allowed beyond what the first count needs.
const SLACK_PAGES: usize = 2;

impl ServiceNowConnector {
    /// Every record of `table` matching `query`, with `fields`.
    pub(crate) async fn list_all(
        &self,
        table: &str,
        query: &str,
        fields: &str,
        display_all: bool,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut records = Vec::new();
        // sys_id → index in `records`.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut cap = MAX_PAGES;
        let mut budget = ListingBudget::default();
        let limit = PAGE_SIZE.to_string();
        let display = if display_all { "all" } else { "false" };
        for page in 0.. {
            if page >= cap {
                return Err(ConnectorError::InvalidResponse(format!(
                    "{table}: still more records after {page} pages of {PAGE_SIZE}"
                )));
            }
            let offset = (page * STEP).to_string();
            let url = self.table_url(
                table,
                None,
                &[
                    ("sysparm_query", query),
                    ("sysparm_fields", fields),
                    ("sysparm_limit", &limit),
                    ("sysparm_offset", &offset),
                    ("sysparm_display_value", display),
                    ("sysparm_exclude_reference_link", "true"),
                ],
            )?;
            let response = self.call(Method::GET, url, None).await?;
            budget.take(table, response.body.len())?;
            if page == 0 {
                let total = response
                    .headers
                    .get("x-total-count")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if let Some(total) = total {
                    cap = cap.min(total.div_ceil(STEP) + SLACK_PAGES);
                }
            }
            let result = Self::result(&response)?;
            let Value::Array(items) = result else {
                return Err(ConnectorError::InvalidResponse(format!(
                    "{table}: a list answer whose result is not an array"
                )));
            };
            let count = items.len();
            let mut new = 0;
            for item in items {
                let id = crate::wire::Record(&item).value("sys_id");
                match seen.get(&id) {
                    // Read again on a later page: keep the fresher copy.
                    Some(&at) if !id.is_empty() => records[at] = item,
                    _ => {
                        new += 1;
                        if !id.is_empty() {
                            seen.insert(id, records.len());
                        }
                        records.push(item);
                    }
                }
            }
            if count > PAGE_OVERLAP && new == 0 {
                return Err(ConnectorError::InvalidResponse(format!(
                    "{table}: page {page} repeats records already read; the instance ignores sysparm_offset"
                )));
            }
            if count < PAGE_SIZE {
                return Ok(records);
            }
        }
        Ok(records)
    }
}
