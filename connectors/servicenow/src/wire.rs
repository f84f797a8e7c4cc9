//! Reading records answered with `sysparm_display_value=all` (every field a
//! `{"display_value","value"}` pair) or plain strings, and the platform's
//! timestamps (`yyyy-MM-dd HH:mm:ss`, UTC).

use chrono::{DateTime, NaiveDateTime, Utc};
use psa_connector::ConnectorError;
use serde_json::Value;

/// A record from the Table API.
pub(crate) struct Record<'a>(pub &'a Value);

impl<'a> Record<'a> {
    pub fn new(value: &'a Value, what: &str) -> Result<Self, ConnectorError> {
        if value.is_object() {
            Ok(Record(value))
        } else {
            Err(ConnectorError::InvalidResponse(format!(
                "{what} is not a JSON object"
            )))
        }
    }

    fn part(&self, field: &str, key: &str) -> String {
        match self.0.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => match o.get(key).or_else(|| o.get("value")) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            },
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    /// The stored value (a sys_id for references, a choice's value).
    pub fn value(&self, field: &str) -> String {
        self.part(field, "value")
    }

    /// The shown value (a reference's name, a choice's label).
    pub fn display(&self, field: &str) -> String {
        self.part(field, "display_value")
    }

    /// A field that must be present and non-empty.
    pub fn required(&self, field: &str, what: &str) -> Result<String, ConnectorError> {
        let v = self.value(field);
        if v.is_empty() {
            return Err(ConnectorError::InvalidResponse(format!(
                "{what} has no {field}"
            )));
        }
        Ok(v)
    }
}

/// Parses `yyyy-MM-dd HH:mm:ss` as UTC.
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// Formats an instant the way encoded queries compare it.
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A value placed in an encoded query: `^` is written `^^`.
pub(crate) fn query_value(text: &str) -> String {
    text.replace('^', "^^")
}

/// Whether `id` can be a sys_id (and so is safe in a path and a query).
pub(crate) fn is_sys_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}
