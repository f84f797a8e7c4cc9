//! Reference fields (`assignment_group`, `caller_id`, `assigned_to`,
//! `company`) written by display name: the name is looked up once in the
//! referenced table and the sys_id cached.

use std::collections::HashMap;

use psa_connector::ConnectorError;
use tokio::sync::Mutex;

use crate::client::ServiceNowConnector;
use crate::wire::{query_value, Record};

/// The table a reference field points at, and the query finding a name there.
pub(crate) fn reference_table(field: &str) -> Option<(&'static str, &'static str)> {
    match field {
        "assignment_group" => Some(("sys_user_group", "name={}")),
        "caller_id" | "assigned_to" => Some(("sys_user", "user_name={}^ORname={}")),
        "company" => Some(("core_company", "name={}")),
        _ => None,
    }
}

/// Names already resolved: (field, name) → sys_id.
#[derive(Default)]
pub(crate) struct RefCache(Mutex<HashMap<(String, String), String>>);

impl ServiceNowConnector {
    /// The sys_id a reference field's display name stands for.
    pub(crate) async fn resolve_reference(
        &self,
        field: &'static str,
        name: &str,
    ) -> Result<String, ConnectorError> {
        let Some((table, pattern)) = reference_table(field) else {
            return Ok(name.to_string());
        };
        let key = (field.to_string(), name.to_string());
        if let Some(id) = self.refs.0.lock().await.get(&key) {
            return Ok(id.clone());
        }
        let query = pattern.replace("{}", &query_value(name));
        let rows = self.list_all(table, &query, "sys_id,name", false).await?;
        let id = match rows.as_slice() {
            [one] => Record(one).required("sys_id", table)?,
            [] => {
                return Err(ConnectorError::UnknownValue {
                    kind: field,
                    label: name.to_string(),
                    valid: format!("a name in {table}"),
                })
            }
            _ => {
                return Err(ConnectorError::Config(format!(
                    "{field}: {} records in {table} are named {name:?}; rename one",
                    rows.len()
                )))
            }
        };
        self.refs.0.lock().await.insert(key, id.clone());
        Ok(id)
    }
}
