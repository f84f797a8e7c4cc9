//! The webhook events a simulated change raises: one per ready, active,
//! subscribed webhook whose subscribed fields changed (authors on its
//! excluded list raise none), serialised with Autotask's escaping and signed
//! over exactly those bytes.

use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

use super::state::{hook_field_name, note_json, now_ms, ticket_json, Data, HookKind};
use crate::escape::to_autotask_json;

/// A webhook delivery waiting to be sent (after the state lock is released).
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    /// The webhook it is sent for (its failures are counted).
    pub hook_id: i64,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        other => Some(other.to_string()),
    }
}

impl Data {
    /// Events for a ticket change; `changed` is empty for creation.
    pub(crate) fn ticket_events(
        &mut self,
        id: i64,
        action: &str,
        changed: &[&str],
        author: i64,
    ) -> Vec<Outgoing> {
        let Some(ticket) = self.tickets.get(&id) else {
            return Vec::new();
        };
        let item = ticket_json(ticket, &self.tenant);
        self.events(
            HookKind::Ticket,
            "Ticket",
            id,
            &item,
            action,
            changed,
            author,
        )
    }

    pub(crate) fn note_events(&mut self, note_id: i64, author: i64) -> Vec<Outgoing> {
        let Some(note) = self.notes.get(&note_id) else {
            return Vec::new();
        };
        let item = note_json(note);
        self.events(
            HookKind::Note,
            "TicketNote",
            note_id,
            &item,
            "Create",
            &[],
            author,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn events(
        &mut self,
        kind: HookKind,
        entity: &str,
        id: i64,
        item: &Value,
        action: &str,
        changed: &[&str],
        author: i64,
    ) -> Vec<Outgoing> {
        if !self.webhooks_enabled {
            return Vec::new();
        }
        let create = changed.is_empty();
        let mut out = Vec::new();
        for hook in self.hooks.values_mut().filter(|h| h.kind == kind) {
            let wanted = if create {
                hook.on_create
            } else {
                hook.on_update
            };
            if !hook.active
                || !wanted
                || !hook.is_ready()
                || hook.excluded.iter().any(|e| e.1 == author)
            {
                continue;
            }
            let mut fields = Map::new();
            let mut hit = false;
            for f in &hook.fields {
                let Some(name) = hook_field_name(kind, f.field_id) else {
                    continue;
                };
                let relevant = create || changed.contains(&name);
                if f.subscribed && relevant {
                    hit = true;
                }
                if (f.subscribed && relevant) || f.always {
                    if let Some(v) = item.get(name).and_then(as_text) {
                        fields.insert(pascal(name), Value::String(v));
                    }
                }
            }
            if !hit {
                continue;
            }
            hook.sequence += 1;
            let payload = json!({
                "Action": action,
                "Guid": hook.guid,
                "EntityType": entity,
                "Id": id,
                "Fields": fields,
                "EventTime": now_ms().to_rfc3339_opts(SecondsFormat::Millis, true),
                "SequenceNumber": hook.sequence,
                "PersonID": author,
            });
            let body = to_autotask_json(&payload).into_bytes();
            let signature = crate::hooks::sign(&hook.secret, &body);
            out.push(Outgoing {
                hook_id: hook.id,
                url: hook.url.clone(),
                headers: vec![
                    (
                        "Content-Type".into(),
                        "application/json; charset=utf-8".into(),
                    ),
                    ("X-Hook-Signature".into(), signature),
                ],
                body,
            });
        }
        out
    }
}
