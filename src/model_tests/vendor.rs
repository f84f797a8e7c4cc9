//! The fake vendor of the model-based test: tickets and notes in memory
//! (they outlive the bridge's restarts, as a real vendor's would), a log of
//! every write the bridge made, and a fault switch for write calls:
//! refused before the write (retryable or permanent), or applied and then
//! answered with a timeout (ambiguous).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use psa_connector::{
    Comment, ConnectorError, NewComment, NewTicket, Ticket, TicketUpdate, Visibility,
};

use crate::clock::{Clock, ManualClock};
use crate::testing::Script;

/// How write calls fail while a fault is switched on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Refused before anything is written (a 503).
    Retryable,
    /// Refused for good (a 400).
    Permanent,
    /// Written, then the answer is lost (a timeout).
    Ambiguous,
}

/// One write the bridge made, in the order the vendor applied them.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Created {
        ticket: String,
        title: String,
        priority: Option<String>,
    },
    Updated {
        ticket: String,
        update: TicketUpdate,
    },
    Noted {
        ticket: String,
        body: String,
    },
}

#[derive(Default)]
struct State {
    tickets: BTreeMap<String, Ticket>,
    comments: BTreeMap<String, Vec<Comment>>,
    effects: Vec<Effect>,
    fault: Option<Fault>,
    next_id: u64,
    last_stamp: Option<DateTime<Utc>>,
}

/// One vendor; clones share the same state.
#[derive(Clone)]
pub struct Vendor {
    name: &'static str,
    clock: ManualClock,
    state: Arc<Mutex<State>>,
}

impl Vendor {
    pub fn new(name: &'static str, clock: ManualClock) -> Self {
        Self {
            name,
            clock,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_fault(&self, fault: Option<Fault>) {
        self.lock().fault = fault;
    }

    /// A strictly increasing vendor time stamp, not before the clock.
    fn stamp(state: &mut State, now: DateTime<Utc>) -> DateTime<Utc> {
        let at = match state.last_stamp {
            Some(last) if last >= now => last + Duration::milliseconds(1),
            _ => now,
        };
        state.last_stamp = Some(at);
        at
    }

    /// A person creates a ticket (not a bridge effect).
    pub fn person_creates(&self, title: &str, queue: &str, status: &str, priority: &str) -> String {
        let now = self.clock.now();
        let mut s = self.lock();
        s.next_id += 1;
        let id = format!("{}{}", self.name, s.next_id);
        let at = Self::stamp(&mut s, now);
        let ticket = Ticket {
            assignee: Default::default(),
            category: Default::default(),
            id: id.clone(),
            number: format!("#{id}"),
            title: title.into(),
            description: None,
            status: status.into(),
            priority: priority.into(),
            queue: Some(queue.into()),
            closed: false,
            marker: None,
            fields: Default::default(),
            updated_at: at,
        };
        s.tickets.insert(id.clone(), ticket);
        id
    }

    /// A person edits a ticket (not a bridge effect).
    pub fn person_edits(&self, id: &str, status: Option<&str>, priority: Option<&str>) {
        let now = self.clock.now();
        let mut s = self.lock();
        let at = Self::stamp(&mut s, now);
        if let Some(t) = s.tickets.get_mut(id) {
            if let Some(v) = status {
                t.status = v.into();
            }
            if let Some(v) = priority {
                t.priority = v.into();
            }
            t.updated_at = at;
        }
    }

    /// A person adds a note (not a bridge effect).
    pub fn person_notes(&self, id: &str, body: &str, visibility: Visibility) {
        let now = self.clock.now();
        let mut s = self.lock();
        let at = Self::stamp(&mut s, now);
        let n = s.comments.get(id).map_or(0, Vec::len);
        if let Some(t) = s.tickets.get_mut(id) {
            t.updated_at = at;
        }
        s.comments.entry(id.into()).or_default().push(Comment {
            id: format!("{id}-c{n}"),
            body: body.into(),
            visibility,
            author: Some("person".into()),
            created_at: at,
            resolution: false,
            marker: None,
        });
    }

    pub fn ticket(&self, id: &str) -> Option<Ticket> {
        self.lock().tickets.get(id).cloned()
    }

    pub fn tickets(&self) -> Vec<Ticket> {
        self.lock().tickets.values().cloned().collect()
    }

    pub fn notes(&self, id: &str) -> Vec<Comment> {
        self.lock().comments.get(id).cloned().unwrap_or_default()
    }

    pub fn effects(&self) -> Vec<Effect> {
        self.lock().effects.clone()
    }

    /// Runs a write: refused under a retryable or permanent fault; under an
    /// ambiguous one applied and then answered with a timeout.
    fn write<T>(
        &self,
        apply: impl FnOnce(&mut State, DateTime<Utc>) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let now = self.clock.now();
        let mut s = self.lock();
        match s.fault {
            Some(Fault::Retryable) => Err(ConnectorError::Http {
                status: 503,
                message: format!("{} is down", self.name),
                retry_after: None,
            }),
            Some(Fault::Permanent) => Err(ConnectorError::Rejected {
                status: 400,
                message: format!("{} refuses the write", self.name),
            }),
            Some(Fault::Ambiguous) => {
                apply(&mut s, now)?;
                Err(ConnectorError::Timeout)
            }
            None => apply(&mut s, now),
        }
    }
}

impl Script for Vendor {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        self.ticket(id)
            .ok_or_else(|| ConnectorError::NotFound(format!("ticket {id}")))
    }

    fn find_by_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        Ok(self
            .lock()
            .tickets
            .values()
            .find(|t| t.marker.as_deref() == Some(marker))
            .cloned())
    }

    fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        let name = self.name;
        self.write(|s, now| {
            s.next_id += 1;
            let id = format!("{name}{}", s.next_id);
            let at = Self::stamp(s, now);
            let ticket = Ticket {
                assignee: Default::default(),
                category: Default::default(),
                id: id.clone(),
                number: format!("#{id}"),
                title: new.title.clone(),
                description: Some(new.description.clone()),
                status: new.status.clone().unwrap_or_else(|| "New".into()),
                priority: new.priority.clone().unwrap_or_default(),
                queue: None,
                closed: false,
                marker: Some(new.marker.clone()),
                fields: new.fields.clone(),
                updated_at: at,
            };
            s.tickets.insert(id.clone(), ticket.clone());
            s.effects.push(Effect::Created {
                ticket: id,
                title: new.title.clone(),
                priority: new.priority.clone(),
            });
            Ok(ticket)
        })
    }

    fn update_ticket(&self, id: &str, update: &TicketUpdate) -> Result<(), ConnectorError> {
        self.write(|s, now| {
            let at = Self::stamp(s, now);
            let t = s
                .tickets
                .get_mut(id)
                .ok_or_else(|| ConnectorError::NotFound(format!("ticket {id}")))?;
            if let Some(v) = &update.title {
                t.title = v.clone();
            }
            if let Some(v) = &update.status {
                t.status = v.clone();
            }
            if let Some(v) = &update.priority {
                t.priority = v.clone();
            }
            t.fields.extend(update.fields.clone());
            t.updated_at = at;
            s.effects.push(Effect::Updated {
                ticket: id.into(),
                update: update.clone(),
            });
            Ok(())
        })
    }

    fn list_comments(&self, ticket: &str) -> Result<Vec<Comment>, ConnectorError> {
        if self.ticket(ticket).is_none() {
            return Err(ConnectorError::NotFound(format!("ticket {ticket}")));
        }
        Ok(self.notes(ticket))
    }

    fn add_comment(&self, ticket: &str, comment: &NewComment) -> Result<String, ConnectorError> {
        self.write(|s, now| {
            let at = Self::stamp(s, now);
            if !s.tickets.contains_key(ticket) {
                return Err(ConnectorError::NotFound(format!("ticket {ticket}")));
            }
            if let Some(t) = s.tickets.get_mut(ticket) {
                t.updated_at = at;
            }
            let notes = s.comments.entry(ticket.into()).or_default();
            let id = format!("{ticket}-c{}", notes.len());
            notes.push(Comment {
                id: id.clone(),
                body: comment.body.clone(),
                visibility: comment.visibility,
                author: Some("bridge".into()),
                created_at: at,
                resolution: comment.resolution,
                marker: Some(comment.marker.clone()),
            });
            s.effects.push(Effect::Noted {
                ticket: ticket.into(),
                body: comment.body.clone(),
            });
            Ok(id)
        })
    }
}
