//! The idempotency rules of [`super::apply::apply`], pinned with a scripted
//! connector: a create or a note is written only when the marker lookup
//! finds nothing, and what it finds is adopted.

use std::sync::Mutex;

use psa_connector::{
    Comment, ConnectorError, NewComment, NewTicket, Ticket, TicketUpdate, Visibility,
};

use super::apply::{apply, Delivered};
use crate::store::{Action, OutboxOp, Side};
use crate::testing::{sample_ticket, Fake, Script};

/// Answers from fixed data and records every call by name.
#[derive(Default)]
struct Scripted {
    by_marker: Option<Ticket>,
    comments: Vec<Comment>,
    calls: Mutex<Vec<&'static str>>,
}

impl Scripted {
    fn called(&self, name: &'static str) {
        self.calls.lock().unwrap().push(name);
    }
    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }
}

fn ticket(id: &str) -> Ticket {
    Ticket {
        marker: Some("psa-bridge:p:1".into()),
        ..sample_ticket(id)
    }
}

impl Script for Scripted {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        self.called("get_ticket");
        Ok(ticket(id))
    }
    fn find_by_marker(&self, _: &str) -> Result<Option<Ticket>, ConnectorError> {
        self.called("find_by_marker");
        Ok(self.by_marker.clone())
    }
    fn create_ticket(&self, _: &NewTicket) -> Result<Ticket, ConnectorError> {
        self.called("create_ticket");
        Ok(ticket("new"))
    }
    fn update_ticket(&self, _: &str, _: &TicketUpdate) -> Result<(), ConnectorError> {
        self.called("update_ticket");
        Ok(())
    }
    fn list_comments(&self, _: &str) -> Result<Vec<Comment>, ConnectorError> {
        self.called("list_comments");
        Ok(self.comments.clone())
    }
    fn add_comment(&self, _: &str, _: &NewComment) -> Result<String, ConnectorError> {
        self.called("add_comment");
        Ok("c-new".into())
    }
}

fn op(action: Action) -> OutboxOp {
    OutboxOp::sample(9, 1, Side::B, action)
}

fn create() -> OutboxOp {
    op(Action::CreateTicket {
        ticket: NewTicket {
            title: "t".into(),
            description: String::new(),
            status: None,
            priority: None,
            marker: "psa-bridge:p:1".into(),
            placement: Default::default(),
            fields: Default::default(),
        },
        write_back: None,
    })
}

fn note() -> OutboxOp {
    op(Action::AddComment {
        comment: NewComment {
            body: "hello".into(),
            visibility: Visibility::Public,
            marker: "p:1:a:55".into(),
            resolution: false,
        },
        source: Some((Side::A, "55".into())),
    })
}

fn comment_with(marker: Option<&str>) -> Comment {
    Comment {
        id: "c-old".into(),
        body: "hello".into(),
        visibility: Visibility::Public,
        author: None,
        created_at: chrono::Utc::now(),
        resolution: false,
        marker: marker.map(str::to_string),
    }
}

#[tokio::test]
async fn a_create_looks_for_its_marker_first_and_adopts() {
    let found = Fake(Scripted {
        by_marker: Some(ticket("1001")),
        ..Default::default()
    });
    let delivered = apply(&found, &create(), None).await.unwrap();
    assert!(
        matches!(delivered, Delivered::Created { adopted: true, ref ticket } if ticket.id == "1001")
    );
    assert_eq!(found.0.calls(), ["find_by_marker"], "nothing created");

    let none = Fake(Scripted::default());
    let delivered = apply(&none, &create(), None).await.unwrap();
    assert!(matches!(
        delivered,
        Delivered::Created { adopted: false, .. }
    ));
    assert_eq!(none.0.calls(), ["find_by_marker", "create_ticket"]);
}

#[tokio::test]
async fn a_note_looks_for_its_marker_first_and_adopts() {
    let posted = Fake(Scripted {
        comments: vec![comment_with(Some("p:1:a:55"))],
        ..Default::default()
    });
    let delivered = apply(&posted, &note(), Some("200")).await.unwrap();
    assert!(matches!(delivered, Delivered::Commented { adopted: true, ref id } if id == "c-old"));
    assert_eq!(posted.0.calls(), ["list_comments"], "nothing posted");

    // Another marker (or none) is not this note: it is posted.
    let other = Fake(Scripted {
        comments: vec![comment_with(Some("p:1:a:56")), comment_with(None)],
        ..Default::default()
    });
    let delivered = apply(&other, &note(), Some("200")).await.unwrap();
    assert!(matches!(
        delivered,
        Delivered::Commented { adopted: false, .. }
    ));
    assert_eq!(other.0.calls(), ["list_comments", "add_comment"]);
}

#[tokio::test]
async fn updates_and_notes_need_a_linked_ticket() {
    let c = Fake(Scripted::default());
    let update = op(Action::UpdateTicket {
        update: TicketUpdate::default(),
    });
    assert!(apply(&c, &update, None).await.is_err());
    assert!(apply(&c, &note(), None).await.is_err());
    assert!(c.0.calls().is_empty(), "no vendor call without a target");
    let delivered = apply(&c, &update, Some("200")).await.unwrap();
    assert!(matches!(delivered, Delivered::Updated(_)));
    assert_eq!(
        c.0.calls(),
        ["update_ticket", "get_ticket"],
        "read back after the write"
    );
}

/// A vendor holding the tickets the bridge made, found by exact marker.
#[derive(Default)]
struct Vendor {
    tickets: Vec<Ticket>,
    created: Mutex<u32>,
}

impl Script for Vendor {
    fn find_by_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        Ok(self
            .tickets
            .iter()
            .find(|t| t.marker.as_deref() == Some(marker))
            .cloned())
    }
    fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        *self.created.lock().unwrap() += 1;
        Ok(Ticket {
            marker: Some(new.marker.clone()),
            ..sample_ticket("new")
        })
    }
}

/// A store that lost a link (restored from a backup) escalates the source
/// ticket again under a new link id; the create carries the marker of the
/// first escalation and adopts the far ticket made then. The link-id marker
/// of older versions would have missed it and created a second ticket.
#[tokio::test]
async fn a_re_escalation_after_a_lost_link_adopts_the_far_ticket() {
    use crate::store::{Link, TicketRef};
    let source = TicketRef {
        id: "100".into(),
        number: "T100".into(),
    };
    let now = chrono::Utc::now();
    let first = Link::new(3, "p", Side::A, source.clone(), now);
    let vendor = Fake(Vendor {
        tickets: vec![Ticket {
            marker: Some(first.marker()),
            ..sample_ticket("1001")
        }],
        ..Default::default()
    });
    let again = Link::new(8, "p", Side::A, source, now);
    let with_marker = |marker: String| {
        let mut op = create();
        if let Action::CreateTicket { ticket, .. } = &mut op.action {
            ticket.marker = marker;
        }
        op
    };
    let delivered = apply(&vendor, &with_marker(again.marker()), None)
        .await
        .unwrap();
    assert!(
        matches!(delivered, Delivered::Created { adopted: true, ref ticket } if ticket.id == "1001")
    );
    assert_eq!(*vendor.0.created.lock().unwrap(), 0, "nothing created");

    // The old link-id marker of the new link misses it.
    let legacy = Link {
        marker: None,
        ..again
    };
    let delivered = apply(&vendor, &with_marker(legacy.marker()), None)
        .await
        .unwrap();
    assert!(matches!(
        delivered,
        Delivered::Created { adopted: false, .. }
    ));
}
