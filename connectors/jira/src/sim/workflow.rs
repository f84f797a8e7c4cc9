//! The simulated workflow: statuses with their categories, and transitions
//! with source statuses, conditions (a hidden transition is not offered)
//! and required screen fields (Resolve needs `resolution`).

use serde_json::{json, Value};

/// A status and its category (`new`, `indeterminate`, `done`).
#[derive(Clone, Debug)]
pub(crate) struct Status {
    pub id: &'static str,
    pub name: &'static str,
    pub category: &'static str,
}

/// When a transition is offered besides its source statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Condition {
    Always,
    /// Only for issues with priority High or Highest.
    UrgentOnly,
}

/// A required field on the transition's screen.
#[derive(Clone, Debug)]
pub(crate) struct RequiredField {
    pub id: &'static str,
    pub default: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub(crate) struct Transition {
    pub id: &'static str,
    pub name: &'static str,
    /// Statuses it starts from.
    pub from: &'static [&'static str],
    pub to: &'static str,
    pub condition: Condition,
    pub required: Vec<RequiredField>,
}

pub(crate) const OPEN: &str = "10001";
pub(crate) const IN_PROGRESS: &str = "10002";
pub(crate) const WAITING: &str = "10003";
pub(crate) const ESCALATED: &str = "10004";
pub(crate) const RESOLVED: &str = "10005";
pub(crate) const CLOSED: &str = "10006";

pub(crate) fn statuses() -> Vec<Status> {
    let s = |id, name, category| Status { id, name, category };
    vec![
        s(OPEN, "Open", "new"),
        s(IN_PROGRESS, "In Progress", "indeterminate"),
        s(WAITING, "Waiting for customer", "indeterminate"),
        s(ESCALATED, "Escalated", "indeterminate"),
        s(RESOLVED, "Resolved", "done"),
        s(CLOSED, "Closed", "done"),
    ]
}

/// Open → In Progress → Waiting for customer ↔ In Progress; Escalate (urgent
/// issues only); Resolve (needs a resolution, no default); Close (needs a
/// resolution, default "Done"); Reopen from Resolved.
pub(crate) fn transitions() -> Vec<Transition> {
    let resolution = |default| {
        vec![RequiredField {
            id: "resolution",
            default,
        }]
    };
    vec![
        Transition {
            id: "11",
            name: "Start work",
            from: &[OPEN],
            to: IN_PROGRESS,
            condition: Condition::Always,
            required: vec![],
        },
        Transition {
            id: "21",
            name: "Escalate",
            from: &[OPEN, IN_PROGRESS],
            to: ESCALATED,
            condition: Condition::UrgentOnly,
            required: vec![],
        },
        Transition {
            id: "31",
            name: "Wait for customer",
            from: &[IN_PROGRESS, ESCALATED],
            to: WAITING,
            condition: Condition::Always,
            required: vec![],
        },
        Transition {
            id: "41",
            name: "Respond",
            from: &[WAITING],
            to: IN_PROGRESS,
            condition: Condition::Always,
            required: vec![],
        },
        Transition {
            id: "51",
            name: "Resolve",
            from: &[IN_PROGRESS, ESCALATED, WAITING],
            to: RESOLVED,
            condition: Condition::Always,
            required: resolution(None),
        },
        Transition {
            id: "61",
            name: "Close",
            from: &[IN_PROGRESS, ESCALATED, WAITING, RESOLVED],
            to: CLOSED,
            condition: Condition::Always,
            required: resolution(Some("Done")),
        },
        Transition {
            id: "71",
            name: "Reopen",
            from: &[RESOLVED],
            to: OPEN,
            condition: Condition::Always,
            required: vec![],
        },
    ]
}

pub(crate) const RESOLUTIONS: [(&str, &str); 4] = [
    ("10000", "Done"),
    ("10001", "Won't Do"),
    ("10002", "Duplicate"),
    ("10003", "Fixed"),
];

pub(crate) fn status_json(base: &str, s: &Status) -> Value {
    let (cat_id, cat_name, color) = match s.category {
        "new" => (2, "To Do", "blue-gray"),
        "done" => (3, "Done", "green"),
        _ => (4, "In Progress", "yellow"),
    };
    json!({
        "self": format!("{base}rest/api/3/status/{}", s.id),
        "description": "",
        "iconUrl": format!("{base}images/icons/statuses/generic.png"),
        "name": s.name,
        "id": s.id,
        "statusCategory": {
            "self": format!("{base}rest/api/3/statuscategory/{cat_id}"),
            "id": cat_id, "key": s.category, "colorName": color, "name": cat_name
        }
    })
}

/// A transition as `GET …/transitions?expand=transitions.fields` shows it.
pub(crate) fn transition_json(base: &str, t: &Transition, to: &Status, fields: bool) -> Value {
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "to": status_json(base, to),
        "hasScreen": !t.required.is_empty(),
        "isGlobal": false,
        "isInitial": false,
        "isAvailable": true,
        "isConditional": t.condition != Condition::Always,
        "isLooped": false,
    });
    if fields {
        let mut map = serde_json::Map::new();
        for f in &t.required {
            let allowed: Vec<Value> = RESOLUTIONS
                .iter()
                .map(|(id, name)| json!({"self": format!("{base}rest/api/3/resolution/{id}"), "id": id, "name": name}))
                .collect();
            let mut meta = json!({
                "required": true,
                "schema": {"type": "resolution", "system": "resolution"},
                "name": "Resolution",
                "key": f.id,
                "operations": ["set"],
                "allowedValues": allowed,
                "hasDefaultValue": f.default.is_some(),
            });
            if let Some(d) = f.default {
                let id = RESOLUTIONS
                    .iter()
                    .find(|(_, n)| *n == d)
                    .map(|(i, _)| *i)
                    .unwrap_or("10000");
                meta["defaultValue"] = json!({"id": id, "name": d});
            }
            map.insert(f.id.to_string(), meta);
        }
        v["fields"] = Value::Object(map);
    }
    v
}
