//! Autotask wire shapes the connector reads (camelCase, lenient about the
//! PascalCase the Swagger file shows) and the error-body reader.

use chrono::{DateTime, NaiveDateTime, Utc};
use psa_connector::ConnectorError;
use serde::Deserialize;
use serde_json::Value;

/// `{"item": …}` from `GET /Entity/{id}`; `null` means not found.
#[derive(Debug, Deserialize)]
pub(crate) struct ItemResponse {
    #[serde(alias = "Item")]
    pub item: Option<Value>,
}

/// `{"itemId": N}` from create and update calls.
#[derive(Debug, Deserialize)]
pub(crate) struct ItemIdResponse {
    #[serde(rename = "itemId", alias = "ItemId", alias = "itemID")]
    pub item_id: i64,
}

/// One page of a query.
#[derive(Debug, Deserialize)]
pub(crate) struct QueryPage {
    #[serde(alias = "Items")]
    pub items: Vec<Value>,
    #[serde(default, rename = "pageDetails", alias = "PageDetails")]
    pub page_details: Option<PageDetails>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageDetails {
    #[serde(default, rename = "nextPageUrl", alias = "NextPageUrl")]
    pub next_page_url: Option<String>,
}

/// `{"queryCount": N}` from `{Entity}/query/count`.
#[derive(Debug, Deserialize)]
pub(crate) struct QueryCount {
    #[serde(rename = "queryCount", alias = "QueryCount")]
    pub query_count: u64,
}

/// `entityInformation/fields`.
#[derive(Debug, Deserialize)]
pub(crate) struct FieldsResponse {
    #[serde(alias = "Fields")]
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FieldInfo {
    #[serde(alias = "Name")]
    pub name: String,
    #[serde(default, rename = "picklistValues", alias = "PicklistValues")]
    pub picklist_values: Option<Vec<PicklistValue>>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct PicklistValue {
    #[serde(alias = "Value", deserialize_with = "string_or_number")]
    pub value: String,
    #[serde(alias = "Label")]
    pub label: String,
    #[serde(default = "yes", rename = "isActive", alias = "IsActive")]
    pub is_active: bool,
    #[serde(default, rename = "isDefaultValue", alias = "IsDefaultValue")]
    pub is_default: bool,
}

fn yes() -> bool {
    true
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected string or number, got {other}"
        ))),
    }
}

/// The parts of a ticket the connector reads.
#[derive(Debug, Deserialize)]
pub(crate) struct WireTicket {
    #[serde(alias = "Id")]
    pub id: i64,
    #[serde(default, rename = "ticketNumber", alias = "TicketNumber")]
    pub ticket_number: Option<String>,
    #[serde(default, alias = "Title")]
    pub title: Option<String>,
    #[serde(default, alias = "Description")]
    pub description: Option<String>,
    #[serde(default, alias = "Status")]
    pub status: Option<i64>,
    #[serde(default, alias = "Priority")]
    pub priority: Option<i64>,
    #[serde(default, rename = "queueID", alias = "QueueID")]
    pub queue_id: Option<i64>,
    #[serde(default, rename = "companyID", alias = "CompanyID")]
    pub company_id: Option<i64>,
    #[serde(default, rename = "assignedResourceID", alias = "AssignedResourceID")]
    pub assigned_resource_id: Option<i64>,
    #[serde(default, rename = "issueType", alias = "IssueType")]
    pub issue_type: Option<i64>,
    #[serde(default, rename = "subIssueType", alias = "SubIssueType")]
    pub sub_issue_type: Option<i64>,
    #[serde(
        default,
        rename = "lastTrackedModificationDateTime",
        alias = "LastTrackedModificationDateTime"
    )]
    pub last_tracked: Option<String>,
    #[serde(default, rename = "lastActivityDate", alias = "LastActivityDate")]
    pub last_activity: Option<String>,
    #[serde(default, rename = "createDate", alias = "CreateDate")]
    pub create_date: Option<String>,
    #[serde(default, rename = "userDefinedFields", alias = "UserDefinedFields")]
    pub udfs: Vec<WireUdf>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireUdf {
    #[serde(alias = "Name")]
    pub name: String,
    #[serde(default, alias = "Value")]
    pub value: Option<Value>,
}

/// The parts of a ticket note the connector reads.
#[derive(Debug, Deserialize)]
pub(crate) struct WireNote {
    #[serde(alias = "Id")]
    pub id: i64,
    #[serde(default, alias = "Description")]
    pub description: Option<String>,
    #[serde(default, alias = "Publish")]
    pub publish: Option<i64>,
    #[serde(default, rename = "creatorResourceID", alias = "CreatorResourceID")]
    pub creator_resource_id: Option<i64>,
    /// Set when a contact wrote the note (client portal, e-mail). Not in the
    /// Swagger file; the live API is reported to send it.
    #[serde(default, rename = "createdByContactID", alias = "CreatedByContactID")]
    pub created_by_contact_id: Option<i64>,
    #[serde(default, rename = "createDateTime", alias = "CreateDateTime")]
    pub create_date_time: Option<String>,
}

/// The parts of a resource (a person or API user) the connector reads.
#[derive(Debug, Deserialize)]
pub(crate) struct WireResource {
    #[serde(default, alias = "Id")]
    pub id: Option<i64>,
    #[serde(default, rename = "isActive", alias = "IsActive")]
    pub active: Option<bool>,
    #[serde(
        default,
        rename = "defaultServiceDeskRoleID",
        alias = "DefaultServiceDeskRoleID"
    )]
    pub default_role: Option<i64>,
    #[serde(default, rename = "firstName", alias = "FirstName")]
    pub first_name: Option<String>,
    #[serde(default, rename = "lastName", alias = "LastName")]
    pub last_name: Option<String>,
    #[serde(default, rename = "userName", alias = "UserName")]
    pub user_name: Option<String>,
    #[serde(default, alias = "Email")]
    pub email: Option<String>,
}

/// Reads one query item or `item` into a typed value.
pub(crate) fn from_item<T: serde::de::DeserializeOwned>(
    what: &str,
    item: Value,
) -> Result<T, ConnectorError> {
    if !item.is_object() {
        return Err(ConnectorError::InvalidResponse(format!(
            "{what} is not a JSON object"
        )));
    }
    serde_json::from_value(item)
        .map_err(|e| ConnectorError::InvalidResponse(format!("unreadable {what}: {e}")))
}

/// Parses an Autotask date-time (UTC, with or without an offset).
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// A UDF value as text (UDFs may come back as numbers).
pub(crate) fn udf_text(value: &Option<Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// Turns an Autotask error body (`{"errors":[…]}`, sometimes with `message`)
/// into the vendor's own text.
pub(crate) fn error_message(status: u16, body: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        for (key, value) in &map {
            let key = key.to_ascii_lowercase();
            if key == "errors" {
                if let Value::Array(items) = value {
                    for item in items {
                        match item {
                            Value::String(s) => parts.push(s.clone()),
                            Value::Object(o) => {
                                if let Some(Value::String(s)) = o
                                    .iter()
                                    .find(|(k, _)| k.eq_ignore_ascii_case("message"))
                                    .map(|(_, v)| v)
                                {
                                    parts.push(s.clone());
                                }
                            }
                            _ => {}
                        }
                    }
                }
            } else if key == "message" {
                if let Value::String(s) = value {
                    parts.push(s.clone());
                }
            }
        }
    }
    if parts.is_empty() {
        let text = psa_connector::http::snippet(body);
        if text.trim().is_empty() {
            return format!("HTTP {status} without a message");
        }
        return text;
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(500, br#"{"errors":["a","b"],"message":"m"}"#),
            "a; b; m"
        );
        assert_eq!(error_message(401, b""), "HTTP 401 without a message");
        assert_eq!(
            error_message(502, b"<html>bad gateway"),
            "<html>bad gateway"
        );
        assert_eq!(error_message(400, br#"{"errors":[{"message":"x"}]}"#), "x");
    }

    #[test]
    fn times() {
        use chrono::TimeZone;
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 25, h, m, s).unwrap();
        assert_eq!(parse_time("2026-11-25T10:00:00Z"), Some(at(10, 0, 0)));
        // An offset is converted, not dropped.
        assert_eq!(parse_time("2026-11-25T12:30:05+02:00"), Some(at(10, 30, 5)));
        // Autotask's zone-less form is UTC; fractions are kept.
        assert_eq!(
            parse_time("2026-11-25T10:00:00.123"),
            Some(at(10, 0, 0) + chrono::Duration::milliseconds(123))
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2026-13-25T10:00:00Z"), None);
    }
}
