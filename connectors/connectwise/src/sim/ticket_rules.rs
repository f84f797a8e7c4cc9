//! ConnectWise's rules for ticket writes: required fields and the 100-char
//! summary, references resolved by id or name (statuses per board), the
//! JSON-Patch paths it accepts, and tickets opened by a person in the UI.

use serde_json::{json, Value};

use super::listing::ApiError;
use super::state::{self, BoardType, State as Data, TicketRec};

pub(crate) const SUMMARY_MAX: usize = 100;
/// ConnectWise's limit on `externalXRef`.
pub(crate) const EXTERNAL_XREF_MAX: usize = 100;

pub(crate) fn missing(field: &str) -> ApiError {
    ApiError::invalid(
        "ticket",
        "MissingRequiredField",
        field,
        format!("The {field} field is required."),
    )
}

pub(crate) fn check_summary(summary: &str) -> Result<(), ApiError> {
    if summary.trim().is_empty() {
        return Err(missing("summary"));
    }
    if summary.chars().count() > SUMMARY_MAX {
        return Err(ApiError::invalid(
            "ticket",
            "MaxLengthField",
            "summary",
            format!("The field summary must be a string with a maximum length of {SUMMARY_MAX}."),
        ));
    }
    Ok(())
}

pub(crate) fn check_external_xref(value: &str) -> Result<(), ApiError> {
    if value.chars().count() > EXTERNAL_XREF_MAX {
        return Err(ApiError::invalid(
            "ticket",
            "MaxLengthField",
            "externalXRef",
            format!(
                "The field externalXRef must be a string with a maximum length of {EXTERNAL_XREF_MAX}."
            ),
        ));
    }
    Ok(())
}

impl Data {
    /// Ticket `n`, or the 404 ConnectWise answers for it.
    pub(crate) fn ticket(&self, n: i64) -> Result<&TicketRec, ApiError> {
        self.tickets
            .get(&n)
            .ok_or_else(|| ApiError::not_found(format!("Ticket {n} not found")))
    }
}

pub(crate) fn not_found_ref(field: &str, what: &str, r: &Value) -> ApiError {
    ApiError::invalid("ticket", "NotFound", field, format!("{what} {r} not found"))
}

pub(crate) fn resolve_status(
    state: &Data,
    board_id: i64,
    r: &Value,
) -> Result<state::Status, ApiError> {
    state.status_by_ref(board_id, r).cloned().ok_or_else(|| {
        let what = r
            .get("id")
            .map(|v| v.to_string())
            .or(r.get("name").map(|v| v.to_string()))
            .unwrap_or_default();
        ApiError::invalid(
            "ticket",
            "NotFound",
            "status/id",
            format!("Service Status {what} not found for Service Board {board_id}"),
        )
    })
}

/// A type or subtype of `board_id` by reference `{id}` or `{name}` (active only).
pub(crate) fn resolve_type(
    list: &[BoardType],
    field: &str,
    board_id: i64,
    r: &Value,
) -> Result<BoardType, ApiError> {
    let found = match (
        r.get("id").and_then(Value::as_i64),
        r.get("name").and_then(Value::as_str),
    ) {
        (Some(id), _) => list.iter().find(|t| t.id == id),
        (None, Some(name)) => list
            .iter()
            .find(|t| t.board_id == board_id && t.name.eq_ignore_ascii_case(name)),
        _ => None,
    };
    found
        .filter(|t| t.board_id == board_id && !t.inactive)
        .cloned()
        .ok_or_else(|| {
            let what = match field {
                "type" => "Type",
                "item" => "Item",
                _ => "SubType",
            };
            ApiError::invalid(
                "ticket",
                "InvalidField",
                field,
                format!("{what} {r} is not valid for Service Board {board_id}"),
            )
        })
}

/// Builds a ticket from a POST/PUT body (PUT: `base` keeps id and history).
pub(crate) fn from_body(
    state: &Data,
    body: &Value,
    base: Option<&TicketRec>,
    member: &str,
) -> Result<TicketRec, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "The request body must be a ticket object",
        ));
    }
    let summary = body
        .get("summary")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("summary"))?;
    check_summary(summary)?;
    let board_ref = body
        .get("board")
        .filter(|v| v.is_object())
        .ok_or_else(|| missing("board"))?;
    let board = state
        .board_by_ref(board_ref)
        .filter(|b| !b.inactive)
        .ok_or_else(|| not_found_ref("board", "Board", board_ref))?;
    let company_ref = body
        .get("company")
        .filter(|v| v.is_object())
        .ok_or_else(|| missing("company"))?;
    let company = state
        .company_by_ref(company_ref)
        .ok_or_else(|| not_found_ref("company", "Company", company_ref))?;
    let status = match body.get("status").filter(|v| v.is_object()) {
        Some(r) => resolve_status(state, board.id, r)?,
        None => state
            .default_status(board.id)
            .cloned()
            .ok_or_else(|| missing("status"))?,
    };
    let priority = match body.get("priority").filter(|v| v.is_object()) {
        Some(r) => {
            state
                .priority_by_ref(r)
                .ok_or_else(|| not_found_ref("priority/id", "Priority", r))?
                .id
        }
        None => state.default_priority().map(|p| p.id).unwrap_or(0),
    };
    let owner = match body.get("owner").filter(|v| v.is_object()) {
        Some(r) => Some(
            state
                .member_by_ref(r)
                .ok_or_else(|| not_found_ref("owner", "Member", r))?
                .id,
        ),
        None => None,
    };
    let external_xref = body
        .get("externalXRef")
        .and_then(Value::as_str)
        .unwrap_or_default();
    check_external_xref(external_xref)?;
    let now = state::now();
    let mut t = TicketRec {
        id: base.map(|b| b.id).unwrap_or(state.next_ticket),
        summary: summary.to_string(),
        board_id: board.id,
        status_id: status.id,
        priority_id: priority,
        company_id: company.id,
        owner_id: owner,
        kind: match body.get("type").filter(|v| !v.is_null()) {
            Some(r) => Some(resolve_type(&state.types, "type", board.id, r)?),
            None => None,
        },
        sub_kind: match body.get("subType").filter(|v| !v.is_null()) {
            Some(r) => Some(resolve_type(&state.subtypes, "subType", board.id, r)?),
            None => None,
        },
        item: match body.get("item").filter(|v| !v.is_null()) {
            Some(r) => Some(resolve_type(&state.items, "item", board.id, r)?),
            None => None,
        },
        external_xref: external_xref.to_string(),
        initial_description: base
            .map(|b| b.initial_description.clone())
            .unwrap_or_default(),
        closed: false,
        closed_date: base.and_then(|b| b.closed_date),
        custom_fields: body
            .get("customFields")
            .filter(|v| v.is_array())
            .cloned()
            .unwrap_or(json!([])),
        date_entered: base.map(|b| b.date_entered).unwrap_or(now),
        entered_by: base
            .map(|b| b.entered_by.clone())
            .unwrap_or(member.to_string()),
        last_updated: now,
        updated_by: member.to_string(),
    };
    Data::apply_status(&mut t, &status, now);
    Ok(t)
}

pub(crate) fn bad_op(path: &str, message: &str) -> ApiError {
    ApiError::invalid("ticket", "InvalidField", path, message.to_string())
}

/// Applies one JSON-Patch operation to a ticket copy.
pub(crate) fn apply_op(
    state: &Data,
    t: &mut TicketRec,
    op: &Value,
    new_status: &mut Option<Value>,
) -> Result<(), ApiError> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
    let raw_path = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("Each operation needs a path"))?;
    let path = raw_path.trim_start_matches('/');
    if !matches!(kind, "replace" | "add" | "remove") {
        return Err(bad_op(path, &format!("Unsupported op '{kind}'")));
    }
    let value = if kind == "remove" {
        Value::Null
    } else {
        op.get("value").cloned().unwrap_or(Value::Null)
    };
    match path {
        "summary" => {
            let s = value.as_str().ok_or_else(|| missing("summary"))?;
            check_summary(s)?;
            t.summary = s.to_string();
        }
        "status" => {
            *new_status = Some(value.clone())
                .filter(|v| v.is_object())
                .or(Some(json!({})))
        }
        // ConnectWise answers 200 to sub-paths of references without changing anything.
        "status/id" | "status/name" | "priority/id" | "priority/name" | "board/id"
        | "board/name" => {}
        "priority" => {
            t.priority_id = state
                .priority_by_ref(&value)
                .ok_or_else(|| not_found_ref("priority/id", "Priority", &value))?
                .id
        }
        "board" => {
            let b = state
                .board_by_ref(&value)
                .filter(|b| !b.inactive)
                .ok_or_else(|| not_found_ref("board", "Board", &value))?;
            t.board_id = b.id;
        }
        "company" => {
            t.company_id = state
                .company_by_ref(&value)
                .ok_or_else(|| not_found_ref("company", "Company", &value))?
                .id
        }
        "owner" if value.is_null() => t.owner_id = None,
        "owner" => {
            t.owner_id = Some(
                state
                    .member_by_ref(&value)
                    .ok_or_else(|| not_found_ref("owner", "Member", &value))?
                    .id,
            )
        }
        "type" if value.is_null() => t.kind = None,
        "type" => t.kind = Some(resolve_type(&state.types, "type", t.board_id, &value)?),
        "subType" if value.is_null() => t.sub_kind = None,
        "subType" => {
            t.sub_kind = Some(resolve_type(
                &state.subtypes,
                "subType",
                t.board_id,
                &value,
            )?)
        }
        "item" if value.is_null() => t.item = None,
        "item" => t.item = Some(resolve_type(&state.items, "item", t.board_id, &value)?),
        "externalXRef" => {
            let xref = value.as_str().unwrap_or_default();
            check_external_xref(xref)?;
            t.external_xref = xref.to_string();
        }
        "customFields" => {
            if !value.is_array() {
                return Err(bad_op(
                    path,
                    "customFields must be replaced as a whole array",
                ));
            }
            t.custom_fields = value;
        }
        other => {
            return Err(bad_op(
                other,
                &format!("Cannot patch unknown path '{other}' (paths are case-sensitive)"),
            ))
        }
    }
    Ok(())
}

/// A ticket as an engineer opens it in the UI (unknown labels → defaults).
pub(crate) fn new_ticket_record(
    state: &mut Data,
    summary: &str,
    board: &str,
    company: &str,
    priority: &str,
    member: &str,
) -> TicketRec {
    let board_rec = state
        .board_by_ref(&json!({"name": board}))
        .or(state.boards.first())
        .cloned();
    let board_id = board_rec.map(|b| b.id).unwrap_or(0);
    let company_id = state
        .company_by_ref(&json!({"identifier": company}))
        .or(state.companies.first())
        .map(|c| c.id)
        .unwrap_or(0);
    let priority_id = state
        .priority_by_ref(&json!({"name": priority}))
        .or(state.default_priority())
        .map(|p| p.id)
        .unwrap_or(0);
    let status = state.default_status(board_id).cloned();
    let now = state::now();
    let id = state.next_ticket;
    state.next_ticket += 1;
    let mut t = TicketRec {
        id,
        summary: summary.chars().take(SUMMARY_MAX).collect(),
        board_id,
        status_id: 0,
        priority_id,
        company_id,
        owner_id: state.member_by_identifier(member).map(|m| m.id),
        kind: None,
        sub_kind: None,
        item: None,
        external_xref: String::new(),
        initial_description: String::new(),
        closed: false,
        closed_date: None,
        custom_fields: json!([]),
        date_entered: now,
        entered_by: member.to_string(),
        last_updated: now,
        updated_by: member.to_string(),
    };
    if let Some(s) = status {
        Data::apply_status(&mut t, &s, now);
    }
    t
}
