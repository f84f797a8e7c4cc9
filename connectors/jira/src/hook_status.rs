//! The bridge's admin webhook on Jira (`/rest/webhooks/1.0/webhook`):
//! registration that repairs what it finds, status and removal.
//!
//! Jira keeps an `enabled` flag per admin webhook, which an administrator
//! can switch off; Atlassian documents no automatic disabling after failed
//! deliveries (they are retried, then dropped), so a disabled webhook here
//! is a person's doing. Registration finds the bridge's webhook by URL and,
//! when it is disabled or lacks an event or the project filter, updates it
//! in place (PUT) rather than adding a second one.

use http::Method;
use psa_connector::{ConnectorError, VendorHook, WebhookStatus};
use serde_json::{json, Value};

use crate::client::JiraConnector;
use crate::hooks::EVENTS;

const PATH: &str = "rest/webhooks/1.0/webhook";

/// One listed webhook: (id, url, enabled, events, JQL filter), or a clear error.
fn read(item: &Value) -> Result<(String, String, bool, Vec<String>, String), ConnectorError> {
    let bad =
        |what: &str| ConnectorError::InvalidResponse(format!("{PATH}: a webhook {what}: {item}"));
    let object = item.as_object().ok_or_else(|| bad("is not an object"))?;
    let url = object
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no url"))?;
    // The id is the last segment of `self` (the 1.0 API has no id field).
    let id = object
        .get("self")
        .and_then(Value::as_str)
        .and_then(|s| s.trim_end_matches('/').rsplit('/').next())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("has no self link"))?;
    let enabled = match object.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("has an enabled flag that is not a boolean")),
    };
    let events = object
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("has no events list"))?
        .iter()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    let jql = item
        .pointer("/filters/issue-related-events-section")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok((id.to_string(), url.to_string(), enabled, events, jql))
}

type Listed = (String, String, bool, Vec<String>, String);

impl JiraConnector {
    fn wanted_jql(&self) -> String {
        format!("project = {}", self.settings.project)
    }

    async fn hooks_for(&self, url: &str) -> Result<Vec<Listed>, ConnectorError> {
        let listed: Vec<Value> = self.get_json(PATH, &[]).await.map_err(|e| match e {
            ConnectorError::InvalidResponse(m) => {
                ConnectorError::InvalidResponse(format!("{PATH}: {m}"))
            }
            other => other,
        })?;
        let mut mine = Vec::new();
        for item in &listed {
            let hook = read(item)?;
            if hook.1 == url {
                mine.push(hook);
            }
        }
        Ok(mine)
    }

    /// What is wrong with one of the bridge's webhooks.
    fn problems_of(&self, hook: &Listed) -> Vec<String> {
        let (id, _, enabled, events, jql) = hook;
        let mut problems = Vec::new();
        if !enabled {
            problems.push(format!(
                "webhook {id} is disabled (an administrator switched it off)"
            ));
        }
        for wanted in EVENTS {
            if !events.iter().any(|e| e == wanted) {
                problems.push(format!("webhook {id} is not subscribed to {wanted}"));
            }
        }
        if jql.trim() != self.wanted_jql() {
            problems.push(format!(
                "webhook {id} filters {jql:?}, not {:?}",
                self.wanted_jql()
            ));
        }
        problems
    }

    fn hook_body(&self, url: &str, secret: &str) -> Value {
        json!({
            "name": format!("psa-bridge {}", self.settings.project),
            "url": url,
            "events": EVENTS,
            "filters": {"issue-related-events-section": self.wanted_jql()},
            "excludeBody": false,
            "enabled": true,
            "secret": secret,
        })
    }

    pub(crate) async fn do_register_webhook(&self, url: &str) -> Result<(), ConnectorError> {
        let Some(secret) = self.settings.webhook_secret.as_deref() else {
            return Err(ConnectorError::Config("register_webhooks needs webhook_secret for Jira (deliveries are checked against it)".into()));
        };
        let body = self.hook_body(url, secret);
        match self.hooks_for(url).await?.first() {
            Some(hook) if self.problems_of(hook).is_empty() => Ok(()),
            Some(hook) => {
                tracing::warn!(id = %hook.0, problems = ?self.problems_of(hook), "Jira webhook incomplete or disabled; updating it");
                self.write(Method::PUT, &format!("{PATH}/{}", hook.0), &body, "webhook")
                    .await?;
                Ok(())
            }
            None => {
                self.write(Method::POST, PATH, &body, "webhook API").await?;
                Ok(())
            }
        }
    }

    pub(crate) async fn hook_status(&self, url: &str) -> Result<WebhookStatus, ConnectorError> {
        let mine = self.hooks_for(url).await?;
        let mut status = WebhookStatus {
            url: url.to_string(),
            supported: true,
            note: Some(
                "Jira does not disable a failing admin webhook by itself; an administrator can"
                    .into(),
            ),
            ..WebhookStatus::default()
        };
        for hook in &mine {
            status.problems.extend(self.problems_of(hook));
            status.hooks.push(VendorHook {
                kind: "webhook".into(),
                id: hook.0.clone(),
                url: hook.1.clone(),
                active: hook.2,
                events: hook.3.clone(),
                ..VendorHook::default()
            });
        }
        match mine.len() {
            0 => status
                .problems
                .push(format!("no admin webhook points at {url}")),
            1 => {}
            n => status.problems.push(format!(
                "{n} webhooks point at this URL; each change arrives {n} times"
            )),
        }
        Ok(status)
    }

    pub(crate) async fn remove_hooks(&self, url: &str) -> Result<usize, ConnectorError> {
        let mine = self.hooks_for(url).await?;
        for hook in &mine {
            let target = self.url(&format!("{PATH}/{}", hook.0), &[])?;
            self.http.send(Method::DELETE, target, None).await?;
            tracing::info!(id = %hook.0, "Jira webhook removed");
        }
        Ok(mine.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_webhooks_are_named() {
        for (item, wanted) in [
            (json!(1), "not an object"),
            (json!({"self": "x/1", "events": []}), "no url"),
            (json!({"url": "u", "events": []}), "no self link"),
            (json!({"url": "u", "self": "x/1"}), "no events"),
            (
                json!({"url": "u", "self": "x/1", "events": [], "enabled": 1}),
                "not a boolean",
            ),
        ] {
            let err = read(&item).unwrap_err();
            assert!(err.to_string().contains(wanted), "{item}: {err}");
        }
    }
}
