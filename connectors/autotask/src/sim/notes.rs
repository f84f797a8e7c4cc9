//! Simulated ticket notes: `POST /Tickets/{id}/Notes` validation and storage.

use serde_json::{Map, Value};

use super::events::Outgoing;
use super::state::{get_ci, now_ms, Data, NoteRec, PickValue};
use super::tickets::check_pick;
use super::ApiError;

const MAX_DESCRIPTION: usize = 32_000;
const MAX_TITLE: usize = 250;

fn int(body: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match get_ci(body, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("Error converting value {n}. Path '{key}'."))),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            ApiError::invalid(format!(
                "Could not convert string to integer: {s}. Path '{key}'."
            ))
        }),
        Some(other) => Err(ApiError::invalid(format!(
            "Unexpected value {other} for '{key}'."
        ))),
    }
}

impl Data {
    /// Creates a note. Adding a note also bumps the ticket's lastActivityDate
    /// (what Autotask does) and, unless turned off with
    /// `AutotaskSim::set_notes_touch_tracked(false)`, its
    /// lastTrackedModificationDateTime (unconfirmed for the real API, so
    /// the connector must not rely on it).
    pub(crate) fn create_note(
        &mut self,
        ticket_id: i64,
        body: &Map<String, Value>,
        author: i64,
    ) -> Result<(i64, Vec<Outgoing>), ApiError> {
        if !self.tickets.contains_key(&ticket_id) {
            return Err(ApiError::no_record("create"));
        }
        if let Some(given) = int(body, "ticketID")? {
            if given != ticket_id {
                return Err(ApiError::invalid(
                    "The ticketID in the body does not match the parent id in the URL.",
                ));
            }
        }
        let description = match get_ci(body, "description") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err(ApiError::invalid("Missing required field(s): description.")),
        };
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(ApiError::invalid(format!(
                "The value for field description exceeds the maximum length of {MAX_DESCRIPTION} characters."
            )));
        }
        let title = match get_ci(body, "title") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() > MAX_TITLE => {
                return Err(ApiError::invalid(format!(
                    "The value for field title exceeds the maximum length of {MAX_TITLE} characters."
                )))
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let required_pick = |field: &str, list: &[PickValue]| {
            let value = int(body, field)?
                .ok_or_else(|| ApiError::invalid(format!("Missing required field(s): {field}.")))?;
            check_pick(list, field, value).map(|()| value)
        };
        let note_type = required_pick("noteType", &self.tenant.note_types)?;
        let publish = required_pick("publish", &self.tenant.publishes)?;
        self.next_note += 1;
        let id = self.next_note;
        self.notes.insert(
            id,
            NoteRec {
                id,
                ticket_id,
                title,
                description,
                note_type,
                publish,
                created: now_ms(),
                creator_resource_id: author,
            },
        );
        let mut events = self.note_events(id, author);
        events.extend(self.touch_ticket(ticket_id, author));
        Ok((id, events))
    }

    /// Updates a note (`PATCH /Tickets/{id}/Notes` with the note's `id`):
    /// `publish`, `title` and `description` as given. A note that does not
    /// exist or belongs to another ticket is "No matching records found"
    /// (HTTP 500), as Autotask answers. Moves the ticket's lastActivityDate.
    pub(crate) fn update_note(
        &mut self,
        ticket_id: i64,
        body: &Map<String, Value>,
        author: i64,
    ) -> Result<(i64, Vec<Outgoing>), ApiError> {
        let id =
            int(body, "id")?.ok_or_else(|| ApiError::invalid("Missing required field(s): id."))?;
        let publish = match int(body, "publish")? {
            Some(value) => {
                check_pick(&self.tenant.publishes, "publish", value)?;
                Some(value)
            }
            None => None,
        };
        let description = match get_ci(body, "description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => {
                if s.chars().count() > MAX_DESCRIPTION {
                    return Err(ApiError::invalid(format!(
                        "The value for field description exceeds the maximum length of {MAX_DESCRIPTION} characters."
                    )));
                }
                Some(s.clone())
            }
            Some(_) => return Err(ApiError::invalid("Missing required field(s): description.")),
        };
        let note = self
            .notes
            .get_mut(&id)
            .filter(|n| n.ticket_id == ticket_id)
            .ok_or_else(|| ApiError::no_record("update"))?;
        if let Some(value) = publish {
            note.publish = value;
        }
        if let Some(text) = description {
            note.description = text;
        }
        let events = self.touch_ticket(ticket_id, author);
        Ok((id, events))
    }
}
