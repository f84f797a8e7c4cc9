//! Simulated resources (technicians and API users): `GET /V1.0/Resources/{id}`
//! (`{"item": null}` for unknown ids), `Resources/query` (POST or GET
//! `?search=`, plus `/count`) and `Resources/entityInformation/fields`.

use axum::http::Method;
use serde_json::{json, Value};

use super::routes::{meta_known, ok, parse_id, run_query, Reply, Request};
use super::state::{fields_json, FieldMeta, PickValue};
use super::{ApiError, Shared};

/// One resource as the simulator holds it.
#[derive(Clone, Debug)]
pub(crate) struct ResourceRec {
    pub first_name: String,
    pub last_name: String,
    pub user_name: String,
    pub email: String,
    pub active: bool,
    /// `"Employee"` for people, `"API"` for API-only users (simulator labels).
    pub kind: &'static str,
}

impl ResourceRec {
    /// A person: "Tina Tech" → first name "Tina", last name "Tech",
    /// user name "ttech", e-mail "tina.tech@northwind-msp.example".
    pub fn person(name: &str) -> Self {
        let name = name.trim();
        let (first, last) = name.split_once(char::is_whitespace).unwrap_or((name, ""));
        let (first, last) = (first.trim(), last.trim());
        let initial: String = first.chars().take(1).collect();
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        let user_name = format!("{}{}", squash(&initial), squash(last));
        let local: Vec<String> = [first, last]
            .into_iter()
            .map(squash)
            .filter(|s| !s.is_empty())
            .collect();
        Self {
            first_name: first.to_string(),
            last_name: last.to_string(),
            user_name,
            email: format!("{}@northwind-msp.example", local.join(".")),
            active: true,
            kind: "Employee",
        }
    }

    /// An API-only user, named after its user name.
    pub fn api_user(username: &str) -> Self {
        Self {
            first_name: username.to_string(),
            last_name: String::new(),
            user_name: username.to_string(),
            email: if username.contains('@') {
                username.to_string()
            } else {
                String::new()
            },
            active: true,
            kind: "API",
        }
    }

    /// "First Last" (how the Autotask UI shows a resource).
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }
}

/// The service desk role every simulated resource has as its default.
pub(crate) const DEFAULT_ROLE: i64 = 29683461;

pub(crate) const RESOURCE_FIELDS: &[FieldMeta] = &[
    ("id", "long", true, true, false),
    ("firstName", "string", true, false, false),
    ("lastName", "string", true, false, false),
    ("userName", "string", true, false, false),
    ("email", "string", true, false, false),
    ("isActive", "boolean", true, false, false),
    ("defaultServiceDeskRoleID", "integer", false, false, false),
    ("resourceType", "string", false, true, false),
];

pub(crate) fn resource_json(id: i64, r: &ResourceRec) -> Value {
    json!({
        "id": id,
        "firstName": r.first_name,
        "middleName": null,
        "lastName": r.last_name,
        "userName": r.user_name,
        "email": r.email,
        "isActive": r.active,
        "defaultServiceDeskRoleID": DEFAULT_ROLE,
        "resourceType": r.kind,
        "userDefinedFields": [],
    })
}

/// `/V1.0/Resources/…` (path segments after `resources`, lower-cased).
pub(crate) fn route(shared: &Shared, lower: &[&str], req: &Request) -> Reply {
    let m = &req.method;
    match lower {
        ["query", count @ ..] if count.len() <= 1 && count.iter().all(|c| *c == "count") => {
            let items = shared
                .lock()
                .tenant
                .resources
                .iter()
                .map(|(id, r)| resource_json(*id, r))
                .collect();
            run_query(
                shared,
                req,
                items,
                &meta_known(RESOURCE_FIELDS),
                !count.is_empty(),
            )
        }
        ["entityinformation", "fields"] if m == Method::GET => {
            ok(fields_json(RESOURCE_FIELDS, |_| Vec::<PickValue>::new()))
        }
        [id] if m == Method::GET => {
            let id = parse_id(id)?;
            let item = shared
                .lock()
                .tenant
                .resources
                .get(&id)
                .map(|r| resource_json(id, r));
            ok(json!({ "item": item }))
        }
        _ => Err(ApiError::method(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_and_api_users() {
        let t = ResourceRec::person("Tina Tech");
        assert_eq!(
            (t.first_name.as_str(), t.last_name.as_str()),
            ("Tina", "Tech")
        );
        assert_eq!(t.user_name, "ttech");
        assert_eq!(t.email, "tina.tech@northwind-msp.example");
        assert_eq!(t.display_name(), "Tina Tech");
        let p = ResourceRec::person("Pat Customer-Facing");
        assert_eq!(p.display_name(), "Pat Customer-Facing");
        assert_eq!(p.user_name, "pcustomerfacing");
        assert_eq!(ResourceRec::person("Cher").display_name(), "Cher");
        let a = ResourceRec::api_user("bridge@example.com");
        assert_eq!(a.display_name(), "bridge@example.com");
    }
}
