//! Picklists discovered from `entityInformation/fields`: label ↔ value
//! translation for statuses, priorities, queues, note types and publish levels.

use std::collections::BTreeMap;

use psa_connector::ConnectorError;

use crate::wire::{FieldsResponse, PicklistValue};

/// One picklist field of an entity.
#[derive(Clone, Debug, Default)]
pub(crate) struct Picklist {
    values: Vec<PicklistValue>,
}

impl Picklist {
    /// Label for a stored value (inactive values still have labels).
    pub fn label(&self, value: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|v| v.value == value)
            .map(|v| v.label.as_str())
    }

    /// Value for a label among active entries: exact match first, then case-insensitive.
    pub fn value(&self, label: &str) -> Option<&str> {
        let active = || self.values.iter().filter(|v| v.is_active);
        active()
            .find(|v| v.label == label)
            .or_else(|| active().find(|v| v.label.eq_ignore_ascii_case(label.trim())))
            .map(|v| v.value.as_str())
    }

    /// Looks a label up or names the valid ones.
    pub fn require(&self, kind: &'static str, label: &str) -> Result<&str, ConnectorError> {
        self.value(label)
            .ok_or_else(|| ConnectorError::UnknownValue {
                kind,
                label: label.to_string(),
                valid: self.labels().join(", "),
            })
    }

    /// Active labels in picklist order.
    pub fn labels(&self) -> Vec<String> {
        self.values
            .iter()
            .filter(|v| v.is_active)
            .map(|v| v.label.clone())
            .collect()
    }

    /// The tenant's default entry, if one is marked.
    pub fn default_value(&self) -> Option<&str> {
        self.values
            .iter()
            .find(|v| v.is_active && v.is_default)
            .map(|v| v.value.as_str())
    }
}

/// All picklists of one entity, by field name (lower-cased).
#[derive(Clone, Debug, Default)]
pub(crate) struct EntityPicklists {
    fields: BTreeMap<String, Picklist>,
}

impl EntityPicklists {
    pub fn from_response(response: FieldsResponse) -> Self {
        let fields = response
            .fields
            .into_iter()
            .filter_map(|f| {
                f.picklist_values
                    .map(|values| (f.name.to_ascii_lowercase(), Picklist { values }))
            })
            .collect();
        Self { fields }
    }

    /// The picklist of `field`, empty when the entity has none.
    pub fn get(&self, field: &str) -> Picklist {
        self.fields
            .get(&field.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }
}

/// Whether a status means the ticket is done. Autotask has no closed flag:
/// the system status "Complete" (value 5) is the only one the product treats
/// as completing a ticket, so the label decides, with value 5 as fallback for
/// tenants that renamed it.
pub(crate) fn is_closed_status(value: &str, label: &str) -> bool {
    label.trim().eq_ignore_ascii_case("Complete") || value == "5"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lists() -> EntityPicklists {
        let r: FieldsResponse = serde_json::from_value(json!({"fields": [
            {"name": "status", "picklistValues": [
                {"value": "1", "label": "New", "isActive": true, "isDefaultValue": true},
                {"value": "5", "label": "Complete", "isActive": true},
                {"value": "6", "label": "Old", "isActive": false}
            ]},
            {"name": "title"}
        ]}))
        .unwrap();
        EntityPicklists::from_response(r)
    }

    #[test]
    fn looks_up_both_ways() {
        let status = lists().get("Status");
        assert_eq!(status.value("complete"), Some("5"));
        assert_eq!(status.label("6"), Some("Old"));
        assert_eq!(
            status.value("Old"),
            None,
            "inactive labels are not writable"
        );
        assert_eq!(status.default_value(), Some("1"));
        match status.require("status", "Nope") {
            Err(ConnectorError::UnknownValue { valid, .. }) => assert_eq!(valid, "New, Complete"),
            other => panic!("{other:?}"),
        }
        assert!(lists().get("title").labels().is_empty());
    }
}
