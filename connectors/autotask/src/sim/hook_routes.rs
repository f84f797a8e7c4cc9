//! Routes of `TicketWebhooks` and `TicketNoteWebhooks` (and their Fields,
//! ExcludedResources and UdfFields children).

use axum::http::Method;
use serde_json::json;

use super::routes::{body_object, list_all, meta_known, ok, parse_id, run_query, Reply, Request};
use super::state::{fields_json, hook_json, HookKind, HOOK_FIELDS};
use super::{ApiError, Shared};

pub(crate) fn hooks(shared: &Shared, kind: HookKind, lower: &[&str], req: &Request) -> Reply {
    let m = &req.method;
    match lower {
        [] if m == Method::POST => {
            let body = body_object(&req.body)?;
            let id = shared.lock().create_hook(kind, &body, req.author)?;
            ok(json!({ "itemId": id }))
        }
        [] if m == Method::PATCH => {
            let body = body_object(&req.body)?;
            let id = shared.lock().update_hook(kind, &body)?;
            ok(json!({ "itemId": id }))
        }
        ["query", count @ ..] if count.len() <= 1 && count.iter().all(|c| *c == "count") => {
            let items = shared.lock().hooks_json(kind);
            run_query(
                shared,
                req,
                items,
                &meta_known(HOOK_FIELDS),
                !count.is_empty(),
            )
        }
        ["entityinformation", "fields"] if m == Method::GET => {
            ok(fields_json(HOOK_FIELDS, |_| Vec::new()))
        }
        [id] if m == Method::GET => {
            let id = parse_id(id)?;
            let item = shared
                .lock()
                .hooks
                .get(&id)
                .filter(|h| h.kind == kind)
                .map(hook_json);
            ok(json!({ "item": item }))
        }
        [id] if m == Method::DELETE => {
            let id = shared.lock().delete_hook(kind, parse_id(id)?)?;
            ok(json!({ "itemId": id }))
        }
        [id, child @ ("fields" | "excludedresources" | "udffields")] => {
            let id = parse_id(id)?;
            if m == Method::GET {
                let items = shared.lock().hook_children(kind, id, child);
                return list_all(shared, req, items);
            }
            if m == Method::PATCH && *child == "fields" {
                let body = body_object(&req.body)?;
                let child_id = shared.lock().update_hook_field(kind, id, &body)?;
                return ok(json!({ "itemId": child_id }));
            }
            if m != Method::POST {
                return Err(ApiError::method(m));
            }
            let body = body_object(&req.body)?;
            let child_id = shared.lock().add_hook_child(kind, id, child, &body)?;
            ok(json!({ "itemId": child_id }))
        }
        _ => Err(ApiError::method(m)),
    }
}
