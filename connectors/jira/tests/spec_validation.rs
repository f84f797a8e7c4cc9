//! Every request body the connector sends and every answer the simulator
//! gives, validated against the schema Atlassian's OpenAPI spec names for
//! that operation and status (`tests/spec/jira-openapi-subset.json`, cut
//! from the full spec by `tests/spec/extract.py`). Only the Jira Service
//! Management and admin-webhook APIs, which are not in the platform spec,
//! go unchecked.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use psa_connector::{Connector, NewComment, NewTicket, TicketUpdate, Visibility};
use serde_json::{json, Map, Value};

const SUBSET: &str = include_str!("spec/jira-openapi-subset.json");
/// APIs outside the platform spec.
const NOT_IN_SPEC: [&str; 2] = ["/rest/servicedeskapi/", "/rest/webhooks/1.0/"];

/// OpenAPI 3.0's `nullable: true` as JSON Schema; and `additionalProperties:
/// false` dropped where a schema lists no properties but a `oneOf`/`anyOf`
/// (the spec's `WorkflowCondition`: as written, it refuses every object).
fn nullable(node: &mut Value) {
    match node {
        Value::Object(map) => {
            for v in map.values_mut() {
                nullable(v);
            }
            if !map.contains_key("properties")
                && (map.contains_key("oneOf") || map.contains_key("anyOf"))
            {
                map.remove("additionalProperties");
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nullable),
        _ => {}
    }
}

struct Spec {
    paths: Map<String, Value>,
    schemas: Value,
}

impl Spec {
    fn load() -> Self {
        let mut spec: Value = serde_json::from_str(SUBSET).unwrap();
        nullable(&mut spec);
        Spec {
            paths: spec["paths"].as_object().unwrap().clone(),
            schemas: spec["components"]["schemas"].clone(),
        }
    }

    /// The operation for a concrete path: `{param}` matches one segment.
    fn operation(&self, method: &str, path: &str) -> Option<(String, &Value)> {
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.paths.iter().find_map(|(template, ops)| {
            let t: Vec<&str> = template.split('/').collect();
            let fits = t.len() == segs.len()
                && t.iter()
                    .zip(&segs)
                    .all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b);
            let op = ops.get(method.to_ascii_lowercase())?;
            fits.then(|| (format!("{method} {template}"), op))
        })
    }

    fn check(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut root = schema.as_object().cloned().unwrap_or_default();
        root.insert("components".into(), json!({"schemas": self.schemas}));
        // Formats are not checked: Jira's timestamps carry offsets without a
        // colon (`+0100`, see the vendor notes), which `date-time` refuses.
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(&Value::Object(root))
            .unwrap();
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

fn json_schema(content: Option<&Value>) -> Option<&Value> {
    content?
        .get("content")?
        .get("application/json")?
        .get("schema")
        .filter(|s| s.as_object().is_some_and(|o| !o.is_empty()))
}

#[tokio::test]
async fn requests_and_answers_match_the_openapi_spec() {
    let spec = Spec::load();
    let sim = common::start_sim().await;
    sim.record_exchanges(true);
    let desk = common::connector(&sim, "HELP");
    let dev = common::connector(&sim, "DEV");
    let mut settings = common::settings(&sim, "DEV");
    settings.read_fields = vec!["Customer Tier".into(), "MSP Ticket".into()];
    let dev_fields = common::connector_with(settings);

    // What the daemon does through the connector, on both project kinds.
    desk.discover().await.unwrap();
    let human = sim
        .user_create_issue("HELP", "Printer", "Smoke.\n\nLots.", "Medium")
        .unwrap();
    desk.get_ticket(&human.id).await.unwrap();
    let new = |marker: &str| NewTicket {
        title: "Escalated".into(),
        description: "From Autotask.\nLine two.".into(),
        status: Some("In Progress".into()),
        priority: Some("High".into()),
        marker: marker.into(),
        placement: Default::default(),
        fields: Default::default(),
    };
    let created = desk.create_ticket(&new("spec-1")).await.unwrap();
    desk.find_by_marker("spec-1").await.unwrap().unwrap();
    let mut with_fields = new("spec-2");
    with_fields.fields = BTreeMap::from([
        ("Customer Tier".to_string(), "Gold".to_string()),
        ("MSP Ticket".to_string(), "T20261127.0001".to_string()),
        (
            "Impact Notes".to_string(),
            "Two sites.\nNo VPN.".to_string(),
        ),
    ]);
    let task = dev_fields.create_ticket(&with_fields).await.unwrap();
    dev_fields.get_ticket(&task.id).await.unwrap();
    desk.update_ticket(
        &created.id,
        &TicketUpdate {
            title: Some("Escalated: VPN".into()),
            priority: Some("Low".into()),
            status: Some("Resolved".into()),
            fields: BTreeMap::from([("resolution".to_string(), "Fixed".to_string())]),
        },
    )
    .await
    .unwrap();
    // A category is the issue type, edited when editmeta offers it.
    desk.update_ticket(
        &created.id,
        &TicketUpdate {
            fields: BTreeMap::from([(
                psa_connector::keys::CATEGORY.to_string(),
                "Incident".to_string(),
            )]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let note = |v| NewComment {
        body: "Restarted.".into(),
        visibility: v,
        marker: format!("spec-{v:?}"),
        resolution: false,
    };
    desk.add_comment(&created.id, &note(Visibility::Internal))
        .await
        .unwrap();
    dev.add_comment(&task.id, &note(Visibility::Internal))
        .await
        .unwrap();
    desk.list_comments(&created.id).await.unwrap();
    dev.list_comments(&task.id).await.unwrap();
    desk.changed_since(chrono::Utc::now() - chrono::Duration::minutes(5))
        .await
        .unwrap();
    desk.register_webhook("http://127.0.0.1:9/hook")
        .await
        .unwrap();
    // Errors in Jira's envelope.
    assert!(desk.get_ticket("HELP-999").await.is_err());
    assert!(desk
        .update_ticket(
            &created.id,
            &TicketUpdate {
                title: Some(" ".into()),
                ..Default::default()
            }
        )
        .await
        .is_err());

    let mut checked = BTreeSet::new();
    let mut problems = Vec::new();
    for x in sim.exchanges() {
        let Some((name, op)) = spec.operation(&x.method, &x.path) else {
            assert!(
                NOT_IN_SPEC.iter().any(|p| x.path.starts_with(p)),
                "{} {} is not in the spec",
                x.method,
                x.path
            );
            continue;
        };
        if let (Some(schema), Some(body)) = (json_schema(op.get("requestBody")), &x.request) {
            for e in spec.check(schema, body) {
                problems.push(format!("request {name}: {e}\n  {body}"));
            }
            checked.insert(format!("request {name}"));
        }
        let answer = op.pointer(&format!("/responses/{}", x.status));
        match (json_schema(answer), &x.response) {
            (Some(schema), Some(body)) => {
                for e in spec.check(schema, body) {
                    problems.push(format!("response {} {name}: {e}", x.status));
                }
                checked.insert(format!("response {} {name}", x.status));
            }
            (Some(_), None) => problems.push(format!("response {} {name}: not JSON", x.status)),
            _ => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for must in [
        "request POST /rest/api/3/issue",
        "request PUT /rest/api/3/issue/{issueIdOrKey}",
        "request POST /rest/api/3/issue/{issueIdOrKey}/transitions",
        "request POST /rest/api/3/search/jql",
        "request POST /rest/api/3/issue/{issueIdOrKey}/comment",
        "response 200 GET /rest/api/3/issue/{issueIdOrKey}",
        "response 201 POST /rest/api/3/issue",
        "response 200 GET /rest/api/3/issue/{issueIdOrKey}/transitions",
        "response 200 POST /rest/api/3/search/jql",
        "response 200 GET /rest/api/3/issue/{issueIdOrKey}/comment",
        "response 201 POST /rest/api/3/issue/{issueIdOrKey}/comment",
        "response 200 GET /rest/api/3/field",
        "response 200 GET /rest/api/3/priority",
        "response 200 GET /rest/api/3/status",
        "response 200 GET /rest/api/3/myself",
        "response 200 GET /rest/api/3/project/{projectIdOrKey}",
        "response 200 GET /rest/api/3/workflow/search",
    ] {
        assert!(
            checked.contains(must),
            "not exercised: {must}\nchecked: {checked:#?}"
        );
    }
}
