//! Status changes through workflow transitions. The transition that
//! reaches the target is taken when offered; otherwise the shortest path
//! (breadth first: the first step over what the issue offers now, further
//! steps over the project's workflow from the admin API, or failing that
//! over transitions seen offered before; a workflow transition with
//! conditions counts only when offered) is walked one step at a time,
//! re-reading what is offered after each step. A transition's required
//! screen fields come from the update's fields (the mapping's companion
//! fields such as `resolution`), else the field's default. No path is a
//! permanent error naming the current status, the target and what is on offer.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use http::Method;
use psa_connector::ConnectorError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::client::{seg, JiraConnector};

/// Most transitions walked for one status change.
const MAX_STEPS: usize = 12;

/// One workflow edge (statuses by id; `from` empty for a global transition).
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub from: Vec<String>,
    pub to: String,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Offered {
    pub id: String,
    pub name: String,
    pub to: crate::client::StatusInfo,
    #[serde(default)]
    pub fields: Map<String, Value>,
}

#[derive(Deserialize)]
struct OfferedList {
    #[serde(default)]
    transitions: Vec<Offered>,
}

/// The shortest path's first transition: `offered` are the first steps
/// (transition index, target), `edges` the rest of the graph.
pub(crate) fn first_step(
    current: &str,
    offered: &[(usize, String)],
    edges: &[Edge],
    targets: &HashSet<String>,
) -> Option<usize> {
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut global = Vec::new();
    for e in edges {
        if e.from.is_empty() {
            global.push(e.to.as_str());
        }
        for f in &e.from {
            next.entry(f.as_str()).or_default().push(e.to.as_str());
        }
    }
    let mut seen: HashSet<&str> = HashSet::from([current]);
    let mut queue: VecDeque<(&str, usize)> = VecDeque::new();
    for (index, to) in offered {
        if targets.contains(to) {
            return Some(*index);
        }
        if seen.insert(to.as_str()) {
            queue.push_back((to.as_str(), *index));
        }
    }
    while let Some((status, first)) = queue.pop_front() {
        let outs = next.get(status).into_iter().flatten().chain(global.iter());
        for to in outs {
            if targets.contains(*to) {
                return Some(first);
            }
            if seen.insert(to) {
                queue.push_back((to, first));
            }
        }
    }
    None
}

/// The value for a transition's screen field from the given fields (by key
/// or name), matched against its allowed values.
fn screen_value(
    key: &str,
    meta: &Value,
    given: &BTreeMap<String, String>,
) -> Option<Result<Value, String>> {
    let name = meta.get("name").and_then(Value::as_str).unwrap_or(key);
    let text = given
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key) || k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())?;
    let allowed = meta.get("allowedValues").and_then(Value::as_array);
    Some(match allowed {
        Some(list) if !list.is_empty() => list
            .iter()
            .find(|a| {
                ["name", "value", "id"].iter().any(|k| {
                    a.get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case(&text))
                })
            })
            .map(|a| match a.get("id") {
                Some(id) => json!({"id": id}),
                None => a.clone(),
            })
            .ok_or_else(|| {
                let names: Vec<&str> = list
                    .iter()
                    .filter_map(|a| {
                        a.get("name")
                            .or_else(|| a.get("value"))
                            .and_then(Value::as_str)
                    })
                    .collect();
                format!("{name} {text:?} is not one of: {}", names.join(", "))
            }),
        _ => Ok(match meta.pointer("/schema/type").and_then(Value::as_str) {
            Some("string") => json!(text),
            _ => json!({"name": text}),
        }),
    })
}

impl JiraConnector {
    async fn offered(&self, id: &str) -> Result<Vec<Offered>, ConnectorError> {
        let path = format!("rest/api/3/issue/{}/transitions", seg(id));
        match self
            .get_json::<OfferedList>(&path, &[("expand", "transitions.fields".into())])
            .await
        {
            Err(ConnectorError::Http { status: 404, .. }) => {
                Err(ConnectorError::NotFound(format!("issue {id}")))
            }
            other => Ok(other?.transitions),
        }
    }

    /// The project's workflow edges from the admin API (cached), or none
    /// when the API user may not read workflows.
    async fn workflow(&self) -> Vec<Edge> {
        if let Some(w) = self.cache.lock().await.workflow.clone() {
            return w;
        }
        #[derive(Deserialize)]
        struct Rules {
            #[serde(rename = "conditionsTree")]
            conditions: Option<Value>,
        }
        #[derive(Deserialize)]
        struct T {
            #[serde(default)]
            from: Vec<String>,
            to: String,
            rules: Option<Rules>,
        }
        #[derive(Deserialize)]
        struct P {
            key: String,
        }
        #[derive(Deserialize)]
        struct W {
            #[serde(default)]
            transitions: Vec<T>,
            #[serde(default)]
            projects: Vec<P>,
        }
        #[derive(Deserialize)]
        struct L {
            #[serde(default)]
            values: Vec<W>,
        }
        let query = [
            ("expand", "transitions,projects".to_string()),
            ("maxResults", "50".to_string()),
        ];
        let edges = match self
            .get_json::<L>("rest/api/3/workflow/search", &query)
            .await
        {
            Ok(list) => list
                .values
                .into_iter()
                .filter(|w| w.projects.iter().any(|p| p.key == self.settings.project))
                .flat_map(|w| w.transitions)
                // A conditional transition may not be offered to this
                // issue: it counts only when offered (or seen offered).
                .filter(|t| {
                    t.rules
                        .as_ref()
                        .is_none_or(|r| r.conditions.as_ref().is_none_or(Value::is_null))
                })
                .map(|t| Edge {
                    from: t.from,
                    to: t.to,
                })
                .collect(),
            Err(e) => {
                tracing::info!(error = %e, "Jira workflow not readable; paths use transitions seen offered");
                Vec::new()
            }
        };
        self.cache.lock().await.workflow = Some(edges.clone());
        edges
    }

    /// Moves issue `id` to the status named `target`.
    pub(crate) async fn move_to_status(
        &self,
        id: &str,
        target: &str,
        given: &BTreeMap<String, String>,
    ) -> Result<(), ConnectorError> {
        let targets: HashSet<String> = self
            .statuses(false)
            .await?
            .into_iter()
            .filter(|s| s.name == target)
            .map(|s| s.id)
            .collect();
        let mut used = HashSet::new();
        for _ in 0..MAX_STEPS {
            let bean = self.raw_issue(id, "status").await?;
            let current_id = bean
                .pointer("/fields/status/id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let current = bean
                .pointer("/fields/status/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if current == target {
                return Ok(());
            }
            let offered = self.offered(id).await?;
            {
                let mut cache = self.cache.lock().await;
                let seen = offered
                    .iter()
                    .map(|t| (t.name.clone(), t.to.id.clone()))
                    .collect();
                cache.learned.insert(current_id.clone(), seen);
            }
            let mut edges = self.workflow().await;
            for (from, list) in &self.cache.lock().await.learned {
                edges.extend(list.iter().map(|(_, to)| Edge {
                    from: vec![from.clone()],
                    to: to.clone(),
                }));
            }
            let firsts: Vec<(usize, String)> = offered
                .iter()
                .enumerate()
                .filter(|(_, t)| t.to.name == target || !used.contains(&t.to.id))
                .map(|(i, t)| (i, t.to.id.clone()))
                .collect();
            let Some(step) = first_step(&current_id, &firsts, &edges, &targets) else {
                let on_offer: Vec<String> = offered
                    .iter()
                    .map(|t| format!("{} → {}", t.name, t.to.name))
                    .collect();
                return Err(ConnectorError::Rejected {
                    status: 409,
                    message: format!(
                        "no workflow path from status {current:?} to {target:?}; transitions on offer: {}",
                        if on_offer.is_empty() { "none".to_string() } else { on_offer.join(", ") }
                    ),
                });
            };
            let t = &offered[step];
            used.insert(current_id);
            self.transition(id, t, given).await?;
        }
        Err(ConnectorError::Rejected {
            status: 409,
            message: format!("status {target:?} not reached after {MAX_STEPS} transitions"),
        })
    }

    async fn transition(
        &self,
        id: &str,
        t: &Offered,
        given: &BTreeMap<String, String>,
    ) -> Result<(), ConnectorError> {
        let mut fields = Map::new();
        for (key, meta) in &t.fields {
            match screen_value(key, meta, given) {
                Some(Ok(v)) => {
                    fields.insert(key.clone(), v);
                }
                Some(Err(why)) => {
                    return Err(ConnectorError::Rejected {
                        status: 400,
                        message: format!("transition {:?} to {:?}: {why}", t.name, t.to.name),
                    })
                }
                None if meta.get("required").and_then(Value::as_bool) == Some(true) => {
                    match meta.get("defaultValue").filter(|_| {
                        meta.get("hasDefaultValue").and_then(Value::as_bool) == Some(true)
                    }) {
                        Some(d) => {
                            fields.insert(key.clone(), d.clone());
                        }
                        None => {
                            let name = meta.get("name").and_then(Value::as_str).unwrap_or(key);
                            return Err(ConnectorError::Rejected {
                                status: 400,
                                message: format!(
                                    "transition {:?} to {:?} requires field {key} ({name}); give it with the status (a companion field in the mapping, e.g. {key} = \"…\")",
                                    t.name, t.to.name
                                ),
                            });
                        }
                    }
                }
                None => {}
            }
        }
        let mut body = json!({"transition": {"id": t.id}});
        if !fields.is_empty() {
            body["fields"] = Value::Object(fields);
        }
        let path = format!("rest/api/3/issue/{}/transitions", seg(id));
        self.write(Method::POST, &path, &body, &format!("issue {id}"))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(from: &[&str], to: &str) -> Edge {
        Edge {
            from: from.iter().map(|s| s.to_string()).collect(),
            to: to.into(),
        }
    }

    #[test]
    fn breadth_first_takes_the_shortest_path() {
        let targets = HashSet::from(["W".to_string()]);
        // Offered: 0 → A (long way), 1 → B (short way).
        let offered = vec![(0, "A".to_string()), (1, "B".to_string())];
        let edges = vec![e(&["A"], "C"), e(&["C"], "W"), e(&["B"], "W")];
        assert_eq!(first_step("O", &offered, &edges, &targets), Some(1));
        // Direct beats everything.
        let direct = vec![(0, "A".to_string()), (1, "W".to_string())];
        assert_eq!(first_step("O", &direct, &edges, &targets), Some(1));
        // A global transition reaches the target from anywhere.
        assert_eq!(
            first_step("O", &[(0, "A".to_string())], &[e(&[], "W")], &targets),
            Some(0)
        );
        // Cycles end; no path is None.
        let cyclic = vec![e(&["A"], "B"), e(&["B"], "A")];
        assert_eq!(
            first_step("O", &[(0, "A".to_string())], &cyclic, &targets),
            None
        );
    }
}
