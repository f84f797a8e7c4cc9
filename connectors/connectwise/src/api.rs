//! ConnectWise's JSON shapes as the connector reads them, their conversion to
//! the vendor-neutral model, and the vendor error body → message function.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use psa_connector::{marker, Comment, Ticket, Visibility};
use serde::Deserialize;

/// A reference object (`board`, `status`, `priority`, `company`, `member`, ...).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Reference {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub identifier: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Info {
    #[serde(rename = "lastUpdated", default)]
    pub last_updated: Option<DateTime<Utc>>,
    /// The identifier of the member who made the last change (anything
    /// but a string reads as unknown: it never fails the record's read).
    #[serde(rename = "updatedBy", default, deserialize_with = "lenient_text")]
    pub updated_by: Option<String>,
}

/// A string, or `None` for anything else (null, a number, an object).
fn lenient_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CwTicket {
    pub id: i64,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub board: Option<Reference>,
    #[serde(default)]
    pub status: Option<Reference>,
    #[serde(default)]
    pub priority: Option<Reference>,
    #[serde(default)]
    pub company: Option<Reference>,
    #[serde(default)]
    pub owner: Option<Reference>,
    #[serde(rename = "type", default)]
    pub kind: Option<Reference>,
    #[serde(rename = "subType", default)]
    pub sub_type: Option<Reference>,
    #[serde(default)]
    pub item: Option<Reference>,
    #[serde(rename = "externalXRef", default)]
    pub external_xref: Option<String>,
    #[serde(rename = "closedFlag", default)]
    pub closed_flag: Option<bool>,
    #[serde(rename = "_info", default)]
    pub info: Info,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CwNote {
    pub id: i64,
    #[serde(default)]
    pub text: String,
    #[serde(rename = "detailDescriptionFlag", default)]
    pub detail_description: bool,
    #[serde(rename = "resolutionFlag", default)]
    pub resolution: bool,
    /// Internal analysis: never customer visible.
    #[serde(rename = "internalAnalysisFlag", default)]
    pub internal_analysis: bool,
    /// Marked internal: never customer visible, whatever the other flags say.
    #[serde(rename = "internalFlag", default)]
    pub internal: bool,
    #[serde(default)]
    pub member: Option<Reference>,
    #[serde(default)]
    pub contact: Option<Reference>,
    #[serde(rename = "createdBy", default)]
    pub created_by: Option<String>,
    #[serde(rename = "dateCreated", default)]
    pub date_created: Option<DateTime<Utc>>,
    #[serde(rename = "_info", default)]
    pub info: Info,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CwBoard {
    pub id: i64,
    pub name: String,
    #[serde(rename = "inactiveFlag", default)]
    pub inactive: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CwStatus {
    pub id: i64,
    pub name: String,
    #[serde(rename = "closedStatus", default)]
    pub closed: bool,
    #[serde(default)]
    pub inactive: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CwPriority {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CompanyInfo {
    #[serde(rename = "Codebase")]
    pub codebase: Option<String>,
    /// The API host (`api-na.myconnectwise.net`) or a URL.
    #[serde(rename = "SiteUrl", default)]
    pub site_url: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CwCallback {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub url: String,
    #[serde(rename = "inactiveFlag", default)]
    pub inactive: bool,
}

/// `yyyy-MM-ddTHH:mm:ssZ`, the form condition datetimes use.
pub(crate) fn cw_datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A string literal for `conditions`: double quotes, `\` and `"` escaped.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn ref_label(r: &Option<Reference>) -> Option<String> {
    r.as_ref()
        .and_then(|r| r.name.clone().or(r.identifier.clone()))
}

impl CwTicket {
    pub(crate) fn into_ticket(self, status_closed: bool) -> Ticket {
        let mut fields = BTreeMap::new();
        if let Some(company) = self
            .company
            .as_ref()
            .and_then(|c| c.identifier.clone().or(c.name.clone()))
        {
            fields.insert("company".to_string(), company);
        }
        let board = ref_label(&self.board);
        if let Some(board) = &board {
            fields.insert("board".to_string(), board.clone());
        }
        if let Some(owner) = self
            .owner
            .as_ref()
            .and_then(|o| o.identifier.clone().or(o.name.clone()))
        {
            fields.insert("owner".to_string(), owner);
        }
        let marker = marker::ticket_marker(self.external_xref.as_deref());
        let assignee = psa_connector::Assignee {
            person: self
                .owner
                .as_ref()
                .and_then(|o| o.id)
                .map(|id| psa_connector::Person {
                    id: id.to_string(),
                    name: ref_label(&self.owner),
                    email: None,
                }),
            group: board.clone(),
        };
        let category = psa_connector::Category {
            category: ref_label(&self.kind),
            subcategory: ref_label(&self.sub_type),
            item: ref_label(&self.item),
        };
        Ticket {
            assignee,
            category,
            id: self.id.to_string(),
            number: self.id.to_string(),
            title: self.summary,
            description: None,
            status: ref_label(&self.status).unwrap_or_default(),
            priority: ref_label(&self.priority).unwrap_or_default(),
            queue: board,
            closed: self.closed_flag.unwrap_or(false) || status_closed,
            marker,
            fields,
            updated_at: self.info.last_updated.unwrap_or_else(Utc::now),
        }
    }
}

impl CwNote {
    /// Default-deny: a note is public only when it is a discussion or
    /// resolution note and no flag marks it internal. Anything else,
    /// including a note with no flags at all, is internal.
    pub(crate) fn visibility(&self) -> Visibility {
        let shown = self.detail_description || self.resolution;
        let hidden = self.internal_analysis || self.internal;
        if shown && !hidden {
            Visibility::Public
        } else {
            Visibility::Internal
        }
    }

    pub(crate) fn into_comment(self) -> Comment {
        let (body, marker) = marker::extract(&self.text);
        let author = self
            .member
            .as_ref()
            .and_then(|m| m.name.clone().or(m.identifier.clone()))
            .or_else(|| self.contact.as_ref().and_then(|c| c.name.clone()))
            .or(self.created_by.clone());
        Comment {
            id: self.id.to_string(),
            body,
            visibility: self.visibility(),
            author,
            created_at: self
                .date_created
                .or(self.info.last_updated)
                .unwrap_or_else(Utc::now),
            resolution: self.resolution,
            marker,
        }
    }
}

/// The vendor's message from an error body: `{"code","message","errors":[…]}`
/// or the 429 shape `{"error","message"}`.
pub fn error_message(status: u16, body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = psa_connector::http::snippet(body);
        return if text.trim().is_empty() {
            format!("HTTP {status} without a body")
        } else {
            text
        };
    };
    let mut message = value
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    if let Some(code) = value
        .get("code")
        .or(value.get("error"))
        .and_then(|c| c.as_str())
    {
        message = if message.is_empty() {
            code.to_string()
        } else {
            format!("{code}: {message}")
        };
    }
    let details: Vec<String> = value
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    let msg = e.get("message").and_then(|m| m.as_str())?;
                    Some(match e.get("field").and_then(|f| f.as_str()) {
                        Some(field) => format!("{msg} ({field})"),
                        None => msg.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if !details.is_empty() {
        message = format!("{message} [{}]", details.join("; "));
    }
    if message.is_empty() {
        psa_connector::http::snippet(body)
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let body = br#"{"code":"InvalidObject","message":"ticket object is invalid","errors":[{"code":"MaxLengthField","message":"too long","resource":"ticket","field":"summary"}]}"#;
        assert_eq!(
            error_message(400, body),
            "InvalidObject: ticket object is invalid [too long (summary)]"
        );
        let body = br#"{"error":"ConnectWiseAPI","message":"Too many requests"}"#;
        assert_eq!(
            error_message(429, body),
            "ConnectWiseAPI: Too many requests"
        );
        assert_eq!(error_message(502, b""), "HTTP 502 without a body");
    }

    fn note(flags: &str) -> CwNote {
        serde_json::from_str(&format!(r#"{{"id":1,"text":"t"{flags}}}"#)).unwrap()
    }

    #[test]
    fn note_visibility_is_default_deny() {
        let public = [
            r#","detailDescriptionFlag":true"#,
            r#","resolutionFlag":true"#,
            r#","detailDescriptionFlag":true,"resolutionFlag":true,"internalAnalysisFlag":false,"internalFlag":false"#,
        ];
        for flags in public {
            assert_eq!(note(flags).visibility(), Visibility::Public, "{flags}");
        }
        let internal = [
            "",
            r#","internalAnalysisFlag":true"#,
            // An internal resolution note (the issue's leak).
            r#","resolutionFlag":true,"internalAnalysisFlag":true"#,
            r#","resolutionFlag":true,"internalFlag":true"#,
            r#","detailDescriptionFlag":true,"internalAnalysisFlag":true"#,
            r#","detailDescriptionFlag":true,"internalFlag":true"#,
            r#","externalFlag":true"#,
        ];
        for flags in internal {
            assert_eq!(note(flags).visibility(), Visibility::Internal, "{flags}");
        }
        let c = note(r#","resolutionFlag":true,"internalAnalysisFlag":true"#).into_comment();
        assert_eq!(c.visibility, Visibility::Internal);
        assert!(c.resolution);
    }

    #[test]
    fn only_a_bridge_reference_in_external_xref_is_a_marker() {
        let ticket = |xref: &str| {
            let body = format!(r#"{{"id":5,"summary":"s","externalXRef":"{xref}"}}"#);
            serde_json::from_str::<CwTicket>(&body)
                .unwrap()
                .into_ticket(false)
        };
        assert_eq!(
            ticket("INC0010001").marker,
            None,
            "another integration's id"
        );
        assert_eq!(
            ticket("psa-bridge:acme:7").marker.as_deref(),
            Some("psa-bridge:acme:7")
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
