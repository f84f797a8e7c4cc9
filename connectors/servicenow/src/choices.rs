//! Choice lists (`sys_choice`) of the configured table: state, impact,
//! urgency, priority, close_code and hold_reason, label ↔ value. A table
//! without its own choices for a field uses `task`'s (where custom task
//! tables inherit them from). Cached; `discover` refreshes.

use std::collections::BTreeMap;
use std::sync::Arc;

use psa_connector::ConnectorError;
use tokio::sync::Mutex;

use crate::client::ServiceNowConnector;
use crate::wire::Record;

/// The choice fields the connector translates.
pub(crate) const CHOICE_FIELDS: &[&str] = &[
    "state",
    "impact",
    "urgency",
    "priority",
    "close_code",
    "hold_reason",
    "category",
    "subcategory",
];

/// (value, label) pairs per field, in the instance's order.
#[derive(Debug, Default)]
pub(crate) struct Choices {
    by_field: BTreeMap<String, Vec<(String, String)>>,
}

impl Choices {
    pub fn labels(&self, field: &str) -> Vec<String> {
        self.by_field
            .get(field)
            .map(|c| c.iter().map(|(_, l)| l.clone()).collect())
            .unwrap_or_default()
    }

    /// The value of a label (or of a value given as is).
    pub fn value_of(&self, field: &str, label: &str) -> Option<String> {
        let list = self.by_field.get(field)?;
        list.iter()
            .find(|(_, l)| l == label)
            .or_else(|| list.iter().find(|(v, _)| v == label))
            .map(|(v, _)| v.clone())
    }

    /// A label by label or value, or an UnknownValue naming the valid ones.
    pub fn require(&self, field: &'static str, label: &str) -> Result<String, ConnectorError> {
        self.value_of(field, label)
            .ok_or_else(|| ConnectorError::UnknownValue {
                kind: field,
                label: label.to_string(),
                valid: self.labels(field).join(", "),
            })
    }
}

/// The cached choices of one connection.
#[derive(Default)]
pub(crate) struct ChoiceCache(Mutex<Option<Arc<Choices>>>);

impl ServiceNowConnector {
    /// The table's choices, cached; `refresh` reads them again.
    pub(crate) async fn choices(&self, refresh: bool) -> Result<Arc<Choices>, ConnectorError> {
        let mut cached = self.choices.0.lock().await;
        if let (Some(c), false) = (cached.as_ref(), refresh) {
            return Ok(c.clone());
        }
        let mut choices = Choices::default();
        let table = self.settings.table.clone();
        for name in [table.as_str(), "task"] {
            let missing: Vec<&str> = CHOICE_FIELDS
                .iter()
                .copied()
                .filter(|f| !choices.by_field.contains_key(*f))
                .collect();
            if missing.is_empty() {
                break;
            }
            let query = format!(
                "name={name}^elementIN{}^inactive=false^ORDERBYelement^ORDERBYsequence",
                missing.join(",")
            );
            let rows = self
                .list_all("sys_choice", &query, "sys_id,element,value,label", false)
                .await?;
            for row in &rows {
                let r = Record(row);
                choices
                    .by_field
                    .entry(r.value("element"))
                    .or_default()
                    .push((r.value("value"), r.value("label")));
            }
        }
        if choices.labels("state").is_empty() {
            return Err(ConnectorError::Config(format!(
                "the instance lists no state choices for table {table:?} (sys_choice); check the table name and the API user's read access to sys_choice"
            )));
        }
        let choices = Arc::new(choices);
        *cached = Some(choices.clone());
        Ok(choices)
    }
}
