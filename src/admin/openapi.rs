//! The OpenAPI 3.1 document of the admin listener, hand-written in
//! `openapi.json` beside this file and served as it is (OPEN) at
//! `/api/v1/openapi.json`. Tests keep it true to the code: every route of
//! [`super::ROUTES`] is in it with its method and access and nothing else
//! is (below), it validates as OpenAPI 3.1 and the daemon's answers
//! validate against its schemas (`tests/e2e/api_openapi.rs`).

use axum::http::header;
use axum::response::IntoResponse;

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::admin::{Access, ROUTES};

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// Every route of the table is documented with its method, open routes
    /// as open (`security: []`), every path parameter is declared; and the
    /// document has no route the table lacks. A route added to `ROUTES`
    /// fails here until it is documented.
    #[test]
    fn the_document_covers_exactly_the_route_table() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((path.clone(), method.to_ascii_uppercase()));
            }
        }
        let mut served = BTreeSet::new();
        for route in ROUTES {
            served.insert((route.path.to_string(), route.method.to_string()));
            let operation = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
            assert!(
                operation.is_object(),
                "{} {} is not in openapi.json",
                route.method,
                route.path
            );
            let open = operation["security"] == serde_json::json!([]);
            assert_eq!(
                open,
                matches!(route.access, Access::Open(_)),
                "{} {}: the document and the table disagree on the token",
                route.method,
                route.path
            );
            let declared: BTreeSet<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => {
                        let name = r.rsplit('/').next().unwrap_or_default();
                        doc["components"]["parameters"][name].clone()
                    }
                    None => p.clone(),
                })
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap_or_default().to_string())
                .collect();
            let in_path: BTreeSet<String> = route
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_string)
                .collect();
            assert_eq!(
                declared, in_path,
                "{} {} path parameters",
                route.method, route.path
            );
            assert!(
                operation["responses"]["200"].is_object(),
                "{} {} documents its answer",
                route.method,
                route.path
            );
        }
        let extra: Vec<_> = documented.difference(&served).collect();
        assert!(extra.is_empty(), "documented but not served: {extra:?}");
    }

    /// Every `$ref` points at something the document defines.
    #[test]
    fn every_reference_resolves() {
        let doc = document();
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let pointer = r.strip_prefix('#').expect("a local reference");
                        assert!(doc.pointer(pointer).is_some(), "{r} is not defined");
                    }
                    map.values().for_each(|v| walk(v, doc));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
