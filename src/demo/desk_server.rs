//! The technician desk of `psa-bridge demo --serve`: a small HTTP server
//! that acts as a person in each simulator's UI ([`Desk`]), so a newcomer can
//! change a ticket on either side with `curl` (or the page at `/`) and watch
//! the change flow through the vendor's webhook and the bridge to the other
//! side. Like a person's change, it fires the simulator's webhooks.
//!
//! - `GET /` — the live tickets of both sides, with forms;
//! - `GET /{system}/tickets/{id}` — one ticket and its notes as JSON;
//! - `POST /{system}/tickets/{id}/status`, `.../priority` — the body is the
//!   new label (text, or the form field `value`);
//! - `POST /{system}/tickets/{id}/notes` — the body is a public note's text.
//!
//! A label the simulator does not take is answered 422, an unknown system
//! or ticket 404, an empty or oversized body 400/413.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use super::desk::Desk;
use super::{DemoEnv, System};

/// Largest change a request may carry.
const MAX_BODY: usize = 4 * 1024;
/// Who a note from the desk is by.
const AUTHOR: &str = "Demo Technician";

/// One ticket the page lists: a system and its id there.
#[derive(Clone, Debug)]
pub struct Shown {
    pub system: System,
    pub id: String,
}

#[derive(Clone)]
struct Desks {
    env: Arc<DemoEnv>,
    shown: Arc<Vec<Shown>>,
}

/// Serves the desk on `listener` until the process ends; its address.
pub fn serve(
    env: Arc<DemoEnv>,
    shown: Vec<Shown>,
    listener: TcpListener,
) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/", get(page))
        .route("/{system}/tickets/{id}", get(ticket))
        .route("/{system}/tickets/{id}/{change}", post(change))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Desks {
            env,
            shown: Arc::new(shown),
        });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the demo desk stopped");
        }
    });
    Ok(addr)
}

fn system(name: &str) -> Option<System> {
    [
        System::Autotask,
        System::Connectwise,
        System::Servicenow,
        System::Jira,
    ]
    .into_iter()
    .find(|s| s.connection() == name)
}

fn problem(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn ticket_json(desk: &dyn Desk, id: &str) -> Option<serde_json::Value> {
    let t = desk.ticket(id)?;
    let notes: Vec<_> = desk
        .notes(id)
        .into_iter()
        .map(|n| json!({ "text": n.text, "public": n.public }))
        .collect();
    Some(json!({
        "system": desk.system(), "id": t.id, "number": t.number, "title": t.title,
        "status": t.status, "priority": t.priority, "far_number": t.far_number,
        "notes": notes,
    }))
}

async fn ticket(State(desks): State<Desks>, Path((name, id)): Path<(String, String)>) -> Response {
    let Some(system) = system(&name) else {
        return problem(StatusCode::NOT_FOUND, format!("no system {name:?}"));
    };
    match ticket_json(desks.env.desk(system).as_ref(), &id) {
        Some(body) => Json(body).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("{name} has no ticket {id}")),
    }
}

/// The change's text: the form field `value`, or the whole body.
fn value_of(headers: &HeaderMap, body: &[u8]) -> Option<(String, bool)> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form && body.starts_with(b"value=") {
        let value = url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "value")
            .map(|(_, v)| v.into_owned())?;
        return Some((value, true));
    }
    Some((String::from_utf8(body.to_vec()).ok()?, false))
}

async fn change(
    State(desks): State<Desks>,
    Path((name, id, change)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(system) = system(&name) else {
        return problem(StatusCode::NOT_FOUND, format!("no system {name:?}"));
    };
    let desk = desks.env.desk(system);
    if desk.ticket(&id).is_none() {
        return problem(StatusCode::NOT_FOUND, format!("{name} has no ticket {id}"));
    }
    let Some((value, from_form)) = value_of(&headers, &body) else {
        return problem(StatusCode::BAD_REQUEST, "the body is not UTF-8 text".into());
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "give the new value as the body".into(),
        );
    }
    let took = match change.as_str() {
        "status" => {
            desk.set_status(&id, &value);
            desk.ticket(&id).is_some_and(|t| t.status == value)
        }
        "priority" => {
            desk.set_priority(&id, &value);
            desk.ticket(&id).is_some_and(|t| t.priority == value)
        }
        "notes" => {
            desk.add_note(&id, &value, true, AUTHOR);
            desk.notes(&id).iter().any(|n| n.text.contains(&value))
        }
        other => {
            return problem(
                StatusCode::NOT_FOUND,
                format!("no change {other:?}; use status, priority or notes"),
            )
        }
    };
    if !took {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{} did not take {change} {value:?}: is it one of its labels?",
                desk.system()
            ),
        );
    }
    if from_form {
        return Redirect::to("/").into_response();
    }
    match ticket_json(desk.as_ref(), &id) {
        Some(body) => Json(body).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("{name} has no ticket {id}")),
    }
}

/// `text` safe inside HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn page(State(desks): State<Desks>) -> Html<String> {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"3\">\
         <title>psa-bridge demo desk</title></head><body><h1>psa-bridge demo: the technicians' desks</h1>\
         <p>Change a ticket on one side; the bridge carries it to the other (the page refreshes every 3 s).</p>",
    );
    for shown in desks.shown.iter() {
        let desk = desks.env.desk(shown.system);
        let Some(t) = desk.ticket(&shown.id) else {
            continue;
        };
        let base = format!("/{}/tickets/{}", shown.system.connection(), escape(&t.id));
        out.push_str(&format!(
            "<h2>{} {}: {}</h2><p>Status <b>{}</b>, priority <b>{}</b></p>",
            desk.system(),
            escape(&t.number),
            escape(&t.title),
            escape(&t.status),
            escape(&t.priority)
        ));
        for change in ["status", "priority", "notes"] {
            out.push_str(&format!(
                "<form method=\"post\" action=\"{base}/{change}\"><input name=\"value\" placeholder=\"{}\">\
                 <button>{}</button></form>",
                if change == "notes" { "a public note" } else { change },
                if change == "notes" { "add note" } else { "set" }
            ));
        }
        out.push_str("<ul>");
        for note in desk.notes(&shown.id) {
            out.push_str(&format!(
                "<li>{}{}</li>",
                if note.public { "" } else { "(internal) " },
                escape(&note.text)
            ));
        }
        out.push_str("</ul>");
    }
    out.push_str("</body></html>");
    Html(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_and_plain_bodies_give_the_value() {
        let mut form = HeaderMap::new();
        form.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert_eq!(
            value_of(&form, b"value=Priority+1+-+Emergency"),
            Some(("Priority 1 - Emergency".to_string(), true))
        );
        // curl -d sends plain text with the form content type.
        assert_eq!(
            value_of(&form, b"In Progress"),
            Some(("In Progress".to_string(), false))
        );
        assert_eq!(value_of(&HeaderMap::new(), b"\xff"), None);
        assert_eq!(escape("<b>\"x\"</b>"), "&lt;b&gt;&quot;x&quot;&lt;/b&gt;");
    }
}
