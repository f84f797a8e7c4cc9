//! Outbound notifications, as the business rule in `docs/vendors/servicenow.md`
//! sends them: one JSON notice per change of a record of the watched table,
//! signed per the bridge's receiver contract, sent once (RESTMessageV2 does
//! not retry).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::state::Rec;
use crate::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// One notice ready to send.
pub(crate) struct Notice {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The notice for `rec` of `table` changed by `operation` (`insert` / `update`).
pub(crate) fn notice(
    url: &str,
    secret: &str,
    table: &str,
    rec: &Rec,
    operation: &str,
    now: DateTime<Utc>,
) -> Notice {
    let field = |k: &str| rec.get(k).cloned().unwrap_or_default();
    let body = json!({
        "table": table,
        "sys_id": field("sys_id"),
        "number": field("number"),
        "sys_updated_on": field("sys_updated_on"),
        "sys_mod_count": field("sys_mod_count"),
        "operation": operation,
    })
    .to_string()
    .into_bytes();
    let timestamp = now.timestamp().to_string();
    let signature = sign(secret, &timestamp, &body);
    Notice {
        url: url.to_string(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (TIMESTAMP_HEADER.into(), timestamp),
            (SIGNATURE_HEADER.into(), signature),
        ],
        body,
    }
}
