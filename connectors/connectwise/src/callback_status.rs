//! What ConnectWise has registered for the bridge's callback URL
//! (`webhook_status`) and removing it (`remove_webhook`). ConnectWise
//! deactivates a callback (`inactiveFlag`) after three days of failed
//! deliveries; status reports that, a callback for the URL that is missing
//! or not for tickets, and duplicates; `register` repairs them.

use http::Method;
use psa_connector::{ConnectorError, VendorHook, WebhookStatus};
use serde_json::Value;

use crate::client::ConnectWiseConnector;

/// The URL the bridge registers for `url` (ConnectWise appends the record id).
pub(crate) fn callback_target(url: &str) -> String {
    if url.contains('?') {
        format!("{url}&recordId=")
    } else {
        format!("{}?id=", url.trim_end_matches('?'))
    }
}

/// One listed callback: (id, url, inactive, type), or a clear error.
fn read(item: &Value) -> Result<(i64, String, bool, String), ConnectorError> {
    let bad = |what: &str| {
        ConnectorError::InvalidResponse(format!("system/callbacks: a callback {what}: {item}"))
    };
    let object = item.as_object().ok_or_else(|| bad("is not an object"))?;
    let id = object
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("has no integer id"))?;
    let url = object
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no url"))?;
    let inactive = match object.get("inactiveFlag") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("has an inactiveFlag that is not a boolean")),
    };
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok((id, url.to_string(), inactive, kind.to_string()))
}

impl ConnectWiseConnector {
    async fn callbacks_for(
        &self,
        url: &str,
    ) -> Result<Vec<(i64, String, bool, String)>, ConnectorError> {
        let target = callback_target(url);
        let listed: Vec<Value> =
            self.get_all("system/callbacks", &[])
                .await
                .map_err(|e| match e {
                    ConnectorError::InvalidResponse(m) => {
                        ConnectorError::InvalidResponse(format!("system/callbacks: {m}"))
                    }
                    other => other,
                })?;
        let mut mine = Vec::new();
        for item in &listed {
            let callback = read(item)?;
            if callback.1 == target || callback.1 == url {
                mine.push(callback);
            }
        }
        Ok(mine)
    }

    pub(crate) async fn callback_status(&self, url: &str) -> Result<WebhookStatus, ConnectorError> {
        let mut status = WebhookStatus {
            url: url.to_string(),
            supported: true,
            ..WebhookStatus::default()
        };
        let mine = self.callbacks_for(url).await?;
        for (id, cb_url, inactive, kind) in &mine {
            if *inactive {
                status.problems.push(format!(
                    "callback {id} is inactive (ConnectWise deactivates a callback after 3 days of failed deliveries)"
                ));
            }
            if !kind.eq_ignore_ascii_case("ticket") {
                status.problems.push(format!(
                    "callback {id} is for {kind:?} records, not tickets"
                ));
            }
            status.hooks.push(VendorHook {
                kind: "callback".into(),
                id: id.to_string(),
                url: cb_url.clone(),
                active: !inactive,
                events: vec![kind.to_ascii_lowercase()],
                ..VendorHook::default()
            });
        }
        match mine.len() {
            0 => status
                .problems
                .push(format!("no callback points at {}", callback_target(url))),
            1 => {}
            n => status.problems.push(format!(
                "{n} callbacks point at this URL; each change arrives {n} times"
            )),
        }
        Ok(status)
    }

    pub(crate) async fn remove_callbacks(&self, url: &str) -> Result<usize, ConnectorError> {
        let mine = self.callbacks_for(url).await?;
        for (id, ..) in &mine {
            let api = self.api_url(&format!("system/callbacks/{id}"), &[]).await?;
            self.http.send(Method::DELETE, api, None).await?;
            tracing::info!(id, "ConnectWise callback removed");
        }
        Ok(mine.len())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn malformed_callbacks_are_named() {
        for (item, wanted) in [
            (json!("x"), "not an object"),
            (json!({"url": "u"}), "no integer id"),
            (json!({"id": 1}), "no url"),
            (
                json!({"id": 1, "url": "u", "inactiveFlag": "no"}),
                "not a boolean",
            ),
        ] {
            let err = read(&item).unwrap_err();
            assert!(
                matches!(&err, ConnectorError::InvalidResponse(m) if m.contains(wanted) && m.contains("system/callbacks")),
                "{item}: {err}"
            );
        }
        assert_eq!(
            read(&json!({"id": 4, "url": "u", "type": "ticket"})).unwrap(),
            (4, "u".to_string(), false, "ticket".to_string())
        );
    }

    #[test]
    fn the_record_id_is_appended() {
        assert_eq!(
            callback_target("http://b/webhooks/c"),
            "http://b/webhooks/c?id="
        );
        assert_eq!(
            callback_target("http://b/w?x=1"),
            "http://b/w?x=1&recordId="
        );
    }
}
