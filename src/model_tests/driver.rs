//! The model-based test's driver: the real store, planner and delivery code
//! over two fake vendors and a manual clock, one step at a time. A restart
//! drops the engine (and with it every handle on the store) and reopens
//! the store from its directory; the vendors keep their state.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use psa_connector::{ChangeHint, Visibility};

use super::model::{title, Model, PRIORITIES, STATUSES};
use super::vendor::{Fault, Vendor};
use crate::clock::{Clock, ManualClock};
use crate::config::load::parse_toml;
use crate::config::{LoadedPairing, Mapping};
use crate::engine::{Connection, Engine};
use crate::store::{IntakeSource, OutboxOp, Side};
use crate::testing::Fake;

/// Tickets people create on side a (all in the trigger queue).
pub const TICKETS: usize = 3;

const MAPPING: &str = r#"
[trigger]
side = "a"
queue = "Escalate"

[create]
title_template = "{title}"

[write_back]
note = "Escalated as {number}."
note_visibility = "internal"

[[fields]]
name = "status"
direction = "both"
owner = "b"
values = [
  { a = "New", b = "New" },
  { a = "In Progress", b = "Working" },
  { a = "Waiting", b = "Waiting Customer" },
]

[[fields]]
name = "priority"
direction = "both"
owner = "a"
values = [
  { a = "High", b = "P1" },
  { a = "Medium", b = "P2" },
  { a = "Low", b = "P3" },
]

[description]
on_create = false
updates = "ignore"

[comments]
public = "both"
internal = "none"
"#;

/// One thing that happens.
#[derive(Clone, Debug)]
pub enum Step {
    /// A person changes the a ticket's priority; the change is taken in.
    EditA { ticket: usize, priority: usize },
    /// A person adds a note on the a ticket; taken in.
    NoteA { ticket: usize, public: bool },
    /// A person changes the b ticket's status (if it exists yet); taken in.
    EditB { ticket: usize, status: usize },
    /// A person adds a note on the b ticket (if it exists yet); taken in.
    NoteB { ticket: usize, public: bool },
    /// One planning round.
    Plan,
    /// One delivery round of a side's connection, its writes failing so.
    Deliver { side: Side, fault: Option<Fault> },
    /// The bridge stops and starts again.
    Restart,
    /// An operator retries the oldest dead letter.
    RetryDead,
    /// Time passes.
    Advance { minutes: i64 },
}

pub struct World {
    dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub a: Vendor,
    pub b: Vendor,
    engine: Option<Engine>,
    pub model: Model,
    hints: u64,
}

fn connection(name: &str, vendor: &Vendor) -> (String, Connection) {
    let connection = Connection {
        name: name.into(),
        connector: Arc::new(Fake(vendor.clone())),
    };
    (name.to_string(), connection)
}

pub fn connection_of(side: Side) -> &'static str {
    match side {
        Side::A => "alpha",
        Side::B => "beta",
    }
}

/// Everything about retries and queues the store holds.
#[derive(Debug, PartialEq)]
pub struct Durable {
    outbox: Vec<OutboxOp>,
    inbox: Vec<crate::store::InboxItem>,
    dead_notices: Vec<crate::store::DeadNotice>,
    replans: Vec<(Vec<u8>, OutboxOp)>,
    links: Vec<crate::store::Link>,
    shadows: Vec<crate::store::Shadow>,
}

impl World {
    pub fn new() -> Self {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap());
        let (a, b) = (
            Vendor::new("a", clock.clone()),
            Vendor::new("b", clock.clone()),
        );
        let ids = (0..TICKETS)
            .map(|i| a.person_creates(&title(i), "Escalate", "New", "Low"))
            .collect();
        let mut world = World {
            dir: tempfile::tempdir().unwrap(),
            clock,
            a,
            b,
            engine: None,
            model: Model::new(ids),
            hints: 0,
        };
        world.engine = Some(world.open());
        world
    }

    fn open(&self) -> Engine {
        let path = Path::new("mappings/model.toml");
        let mapping: Mapping = parse_toml(path, MAPPING).unwrap();
        mapping.validate(path, MAPPING).unwrap();
        let pairing = LoadedPairing {
            name: "acme".into(),
            a: connection_of(Side::A).into(),
            b: connection_of(Side::B).into(),
            mapping,
            mapping_path: path.into(),
            mapping_source: MAPPING.into(),
        };
        Engine::new(
            reopen(&self.dir.path().join("store")),
            HashMap::from([connection("alpha", &self.a), connection("beta", &self.b)]),
            vec![pairing],
            Arc::new(self.clock.clone()),
            Default::default(),
        )
    }

    pub fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("engine open")
    }

    pub fn durable(&self) -> Durable {
        let store = &self.engine().store;
        let links = store.links().unwrap();
        Durable {
            outbox: store.outbox().unwrap(),
            inbox: store.inbox().unwrap(),
            dead_notices: store.dead_notices().unwrap(),
            replans: store.replans().unwrap(),
            shadows: links.iter().map(|l| store.shadow(l.id).unwrap()).collect(),
            links,
        }
    }

    /// Takes in a change of `ticket` on `side`, as a webhook would.
    async fn intake(&mut self, side: Side, ticket: &str) {
        self.hints += 1;
        let updated_at = match side {
            Side::A => self.a.ticket(ticket),
            Side::B => self.b.ticket(ticket),
        }
        .map(|t| t.updated_at);
        let hint = ChangeHint {
            ticket_id: ticket.into(),
            updated_at,
            dedup_key: format!("model:{}", self.hints),
            detail: Default::default(),
        };
        let engine = self.engine.as_ref().expect("engine open");
        crate::ingest::enqueue(
            engine,
            connection_of(side),
            IntakeSource::Webhook,
            &[hint],
            None,
        )
        .await
        .unwrap();
    }

    fn b_id(&self, index: usize) -> Option<String> {
        self.model.b_tickets(&self.b, index).pop().map(|t| t.id)
    }

    pub async fn step(&mut self, step: &Step) -> Result<(), String> {
        match *step {
            Step::EditA { ticket, priority } => {
                let label = PRIORITIES[priority].0;
                let id = self.model.a_ids[ticket].clone();
                self.a.person_edits(&id, None, Some(label));
                self.model.a_priority[ticket].push(label.into());
                self.model.escalated[ticket] = true;
                self.intake(Side::A, &id).await;
            }
            Step::NoteA { ticket, public } => {
                let id = self.model.a_ids[ticket].clone();
                let note = self.model.new_note(Side::A, ticket, public);
                self.a
                    .person_notes(&id, &format!("note {}", note.token), visibility(public));
                self.model.escalated[ticket] = true;
                self.intake(Side::A, &id).await;
            }
            Step::EditB { ticket, status } => {
                let Some(id) = self.b_id(ticket) else {
                    return Ok(());
                };
                let label = STATUSES[status].1;
                self.b.person_edits(&id, Some(label), None);
                self.model.b_status[ticket].push(label.into());
                self.intake(Side::B, &id).await;
            }
            Step::NoteB { ticket, public } => {
                let Some(id) = self.b_id(ticket) else {
                    return Ok(());
                };
                let note = self.model.new_note(Side::B, ticket, public);
                self.b
                    .person_notes(&id, &format!("note {}", note.token), visibility(public));
                self.intake(Side::B, &id).await;
            }
            Step::Plan => {
                crate::engine::plan_round(self.engine())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Step::Deliver { side, fault } => self.deliver(side, fault).await?,
            Step::Restart => {
                let before = self.durable();
                self.engine = None;
                self.engine = Some(self.open());
                let after = self.durable();
                if before != after {
                    return Err(format!(
                        "the restart changed the store:\nbefore {before:?}\nafter {after:?}"
                    ));
                }
            }
            Step::RetryDead => {
                let store = &self.engine().store;
                let ops = store
                    .outbox()
                    .unwrap()
                    .into_iter()
                    .filter(|o| o.dead.is_some())
                    .map(|o| o.id);
                let notices = store.dead_notices().unwrap().into_iter().map(|d| d.item.id);
                if let Some(id) = ops.chain(notices).min() {
                    self.engine()
                        .retry_dead(id)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Step::Advance { minutes } => self.clock.advance(chrono::Duration::minutes(minutes)),
        }
        Ok(())
    }

    /// One delivery round under `fault`, checked: only due heads of queues
    /// not held by a dead letter run, and each outcome is recorded.
    async fn deliver(&mut self, side: Side, fault: Option<Fault>) -> Result<(), String> {
        let now = self.clock.now();
        let before = self.engine().store.outbox().unwrap();
        let vendor = match side {
            Side::A => self.a.clone(),
            Side::B => self.b.clone(),
        };
        vendor.set_fault(fault);
        let attempted = crate::delivery::deliver_round(self.engine(), connection_of(side)).await;
        vendor.set_fault(None);
        for op in &attempted {
            if op.dead.is_some() || op.next_attempt_at > now {
                return Err(format!("op {} ran while dead or not due: {op:?}", op.id));
            }
            let queue = before
                .iter()
                .filter(|o| o.link == op.link && o.target == op.target);
            if let Some(earlier) = queue.clone().find(|o| o.id < op.id) {
                return Err(format!(
                    "op {} overtook op {} of its ticket (dead: {})",
                    op.id,
                    earlier.id,
                    earlier.dead.is_some()
                ));
            }
            let stored = self.engine().store.outbox_op(op.id).unwrap();
            let ok = match (fault, &stored) {
                (None, None) => true,
                (None, Some(_)) => false,
                (Some(Fault::Permanent), Some(s)) => {
                    s.dead.is_some() && s.attempts == op.attempts + 1
                }
                // Nothing to write: adopted what an earlier attempt wrote.
                (Some(_), None) => true,
                (Some(_), Some(s)) => {
                    s.attempts == op.attempts + 1
                        && (s.dead.is_some() || s.next_attempt_at > now)
                        && s.first_failed_at.is_some()
                }
            };
            if !ok {
                return Err(format!(
                    "op {} under {fault:?}: recorded as {stored:?}",
                    op.id
                ));
            }
        }
        // Queues not attempted: a dead or not-due head, or a target not linked yet.
        Ok(())
    }

    /// No more faults: plan and deliver until nothing can move; then every
    /// operation left must sit behind a dead letter of its own ticket.
    pub async fn drain(&mut self) -> Result<(), String> {
        for _ in 0..100 {
            self.step(&Step::Plan).await?;
            for side in [Side::A, Side::B] {
                self.step(&Step::Deliver { side, fault: None }).await?;
            }
            let d = self.durable();
            let blocked = d.outbox.iter().all(|op| {
                d.outbox.iter().any(|o| {
                    o.link == op.link && o.target == op.target && o.id <= op.id && o.dead.is_some()
                })
            });
            if d.inbox.is_empty() && blocked {
                return Ok(());
            }
            self.clock.advance(chrono::Duration::minutes(11));
        }
        Err(format!("the outbox did not drain: {:?}", self.durable()))
    }

    /// Heal and drain, retry every dead letter, drain again: nothing may be left.
    pub async fn settle(&mut self) -> Result<(), String> {
        self.drain().await?;
        for _ in 0..20 {
            let d = self.durable();
            let dead: Vec<u64> = d
                .outbox
                .iter()
                .filter(|o| o.dead.is_some())
                .map(|o| o.id)
                .chain(d.dead_notices.iter().map(|n| n.item.id))
                .collect();
            if dead.is_empty() && d.outbox.is_empty() && d.replans.is_empty() {
                return Ok(());
            }
            for id in dead {
                self.engine()
                    .retry_dead(id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            self.drain().await?;
        }
        Err(format!(
            "left after retrying every dead letter: {:?}",
            self.durable()
        ))
    }
}

fn visibility(public: bool) -> Visibility {
    if public {
        Visibility::Public
    } else {
        Visibility::Internal
    }
}

use crate::store::reopen::reopen;
