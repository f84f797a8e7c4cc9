//! Rendering a record as the Table API answers: every value a string,
//! reference fields as `{"link","value"}` (or a plain sys_id with
//! `sysparm_exclude_reference_link=true`), choice and reference fields shown
//! by label/name with `sysparm_display_value=true`, and
//! `{"display_value","value"}` pairs with `sysparm_display_value=all`.

use serde_json::{json, Map, Value};

use super::state::{Data, Rec};

/// How `sysparm_display_value` asks values to be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Display {
    Value,
    Label,
    Both,
}

impl Display {
    pub fn parse(text: Option<&str>) -> Display {
        match text.map(str::to_ascii_lowercase).as_deref() {
            Some("true") => Display::Label,
            Some("all") => Display::Both,
            _ => Display::Value,
        }
    }
}

/// Rendering options from the request.
pub(crate) struct RenderOptions<'a> {
    pub display: Display,
    pub exclude_links: bool,
    pub fields: Option<Vec<String>>,
    pub origin: &'a str,
}

/// The table a reference field points at.
pub fn reference_target(table: &str, field: &str) -> Option<&'static str> {
    match (table, field) {
        (_, "assignment_group") => Some("sys_user_group"),
        (_, "assigned_to" | "caller_id" | "opened_by" | "resolved_by" | "closed_by") => {
            Some("sys_user")
        }
        ("sys_user_group", "manager") => Some("sys_user"),
        (_, "company") => Some("core_company"),
        _ => None,
    }
}

/// The label of a choice value, looking at the table's own choices, then `task`'s.
pub(crate) fn choice_label(data: &Data, table: &str, field: &str, value: &str) -> Option<String> {
    [table, "task"].iter().find_map(|name| {
        data.rows("sys_choice")
            .find(|r| {
                let f = &r.fields;
                f.get("name").map(String::as_str) == Some(name)
                    && f.get("element").map(String::as_str) == Some(field)
                    && f.get("value").map(String::as_str) == Some(value)
            })
            .and_then(|r| r.fields.get("label").cloned())
    })
}

fn display_of(data: &Data, table: &str, field: &str, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    if let Some(target) = reference_target(table, field) {
        return data
            .get(target, value)
            .and_then(|r| r.get("name").cloned())
            .unwrap_or_default();
    }
    if table != "sys_choice" {
        if let Some(label) = choice_label(data, table, field, value) {
            return label;
        }
    }
    value.to_string()
}

/// One record as JSON.
pub(crate) fn render(data: &Data, table: &str, rec: &Rec, options: &RenderOptions) -> Value {
    let mut out = Map::new();
    let names: Vec<String> = match &options.fields {
        Some(fields) => fields
            .iter()
            .filter(|f| {
                rec.contains_key(f.as_str()) || super::state::JOURNAL_FIELDS.contains(&f.as_str())
            })
            .cloned()
            .collect(),
        None => {
            let mut all: Vec<String> = rec.keys().cloned().collect();
            if super::state::is_task(table) {
                for j in super::state::JOURNAL_FIELDS {
                    all.push(j.to_string());
                }
            }
            all
        }
    };
    for name in names {
        let value = rec.get(&name).cloned().unwrap_or_default();
        let target = reference_target(table, &name);
        let link = target
            .filter(|_| !options.exclude_links && !value.is_empty())
            .map(|t| format!("{}/api/now/table/{t}/{value}", options.origin));
        let rendered = match options.display {
            Display::Value => match link {
                Some(link) => json!({"link": link, "value": value}),
                None => Value::String(value),
            },
            Display::Label => {
                let label = display_of(data, table, &name, &value);
                match link {
                    Some(link) => json!({"link": link, "display_value": label}),
                    None => Value::String(label),
                }
            }
            Display::Both => {
                let label = display_of(data, table, &name, &value);
                let mut pair = json!({"display_value": label, "value": value});
                if let (Some(link), Some(map)) = (link, pair.as_object_mut()) {
                    map.insert("link".into(), Value::String(link));
                }
                pair
            }
        };
        out.insert(name, rendered);
    }
    Value::Object(out)
}
