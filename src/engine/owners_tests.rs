//! Owners, categories, custody and the unowned alert, planned on the
//! shipped Autotask ↔ ConnectWise mapping plus `[owners]` / `[categories]`,
//! with fake connectors answering person look-ups and a manual clock.

use std::sync::Arc;

use chrono::Duration;
use psa_connector::{keys, Category, ConnectorError, Person, Ticket};
use serde_json::Value;

use super::reconcile::Sides;
use super::tests::{fixture_with, ticket, Fixture, MAPPING};
use super::{Connection, Plan};
use crate::clock::ManualClock;
use crate::store::{Action, Side, TreeName};
use crate::testing::{Fake, Script};

/// Knows the people whose e-mails it was given.
struct People(Vec<(&'static str, &'static str)>);

impl Script for People {
    fn find_person(&self, email: &str) -> Result<Option<Person>, ConnectorError> {
        Ok(self
            .0
            .iter()
            .find(|(_, e)| e.eq_ignore_ascii_case(email))
            .map(|(id, e)| Person {
                id: id.to_string(),
                name: None,
                email: Some(e.to_string()),
            }))
    }
}

const OWNERS: &str = r#"
[owners]
sync = "person_and_group"
direction = "b_to_a"
fallback_a = { group = "Level II Support" }
groups = [{ a = "Escalate to MSP", b = "Co-Managed" }]
msp_owner_within_minutes = 30
note = true

[categories]
direction = "a_to_b"
values = [
  { a = { category = "Hardware", subcategory = "Printer" }, b = { category = "Incident", subcategory = "Hardware", item = "Printer" } },
]
"#;

fn setup() -> Fixture {
    let mut fix = fixture_with(&format!("{MAPPING}\n{OWNERS}"));
    for (name, people) in [
        (
            "autotask",
            vec![("29682886", "sam.supervisor@northwind-msp.example")],
        ),
        (
            "connectwise",
            vec![("202", "sam.supervisor@northwind-msp.example")],
        ),
    ] {
        fix.engine.connections.insert(
            name.into(),
            Connection {
                name: name.into(),
                connector: Arc::new(Fake(People(people))),
            },
        );
    }
    fix
}

fn person(email: &str) -> Option<Person> {
    Some(Person {
        id: "x".into(),
        name: Some("Someone".into()),
        email: Some(email.into()),
    })
}

fn sides(a: &Ticket, b: &Ticket) -> Sides {
    Sides {
        a: Some(a.clone()),
        b: Some(b.clone()),
    }
}

/// Plans the link (fields, then owners) and stores the shadow as a commit would.
async fn plan(fix: &Fixture, a: &Ticket, b: &Ticket) -> Plan {
    let mut plan = fix.plan(a, b, &[]);
    fix.engine
        .plan_owners(fix.pairing(), &sides(a, b), &[], &mut plan)
        .await
        .unwrap();
    let key = fix.link.id.to_be_bytes();
    fix.engine
        .store
        .transact(|tx| tx.put(TreeName::Shadows, &key, &plan.shadow))
        .unwrap();
    plan
}

fn written(plan: &Plan, target: Side) -> std::collections::BTreeMap<String, String> {
    plan.ops
        .iter()
        .filter(|op| op.target == target)
        .filter_map(|op| match &op.action {
            Action::UpdateTicket { update } => Some(update.fields.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn kinds(plan: &Plan) -> Vec<&str> {
    plan.audit.iter().map(|l| l.kind).collect()
}

#[tokio::test]
async fn the_msp_owner_crosses_by_email_and_its_echo_is_quiet() {
    let fix = setup();
    let mut a = ticket(Side::A, "New", "Medium");
    let mut b = ticket(Side::B, "New", "Priority 3 - Normal Response");
    a.assignee.group = Some("Escalate to MSP".into());
    b.assignee.group = Some("Co-Managed".into());
    fix.agree(&a, &b);

    // First sight: holders recorded, nobody on b is not a change.
    let first = plan(&fix, &a, &b).await;
    assert_eq!(kinds(&first).iter().filter(|k| **k == "custody").count(), 2);
    assert!(written(&first, Side::A).is_empty(), "{:?}", first.ops);

    // The MSP assigns Sam: Autotask gets Sam's resource id.
    b.assignee.person = person("Sam.Supervisor@northwind-msp.example");
    let second = plan(&fix, &a, &b).await;
    assert_eq!(
        written(&second, Side::A)
            .get(keys::PERSON)
            .map(String::as_str),
        Some("29682886")
    );
    let custody: Vec<&Value> = second
        .audit
        .iter()
        .filter(|l| l.kind == "custody")
        .map(|l| &l.detail)
        .collect();
    assert_eq!(custody.len(), 1, "only b's holder changed");
    assert_eq!(custody[0]["side"], "b");
    assert_eq!(
        custody[0]["person"]["email"],
        "Sam.Supervisor@northwind-msp.example"
    );
    assert_eq!(custody[0]["group"], "Co-Managed");
    assert!(custody[0]["at"].as_str().unwrap().contains('T'));

    // The echo: Autotask now holds Sam; nothing more to write.
    a.assignee.person = person("sam.supervisor@northwind-msp.example");
    let echo = plan(&fix, &a, &b).await;
    assert!(written(&echo, Side::A).is_empty(), "{:?}", echo.ops);
    assert!(written(&echo, Side::B).is_empty(), "{:?}", echo.ops);
}

#[tokio::test]
async fn an_unknown_person_gets_the_fallback_group() {
    let fix = setup();
    let a = ticket(Side::A, "New", "Medium");
    let mut b = ticket(Side::B, "New", "Priority 3 - Normal Response");
    fix.agree(&a, &b);
    plan(&fix, &a, &b).await;
    b.assignee.person = person("john.smith@northwind-msp.example");
    let p = plan(&fix, &a, &b).await;
    let fields = written(&p, Side::A);
    // Autotask had nobody already: only the group is written.
    assert_eq!(fields.get(keys::PERSON), None);
    assert_eq!(
        fields.get(keys::GROUP).map(String::as_str),
        Some("Level II Support")
    );
    assert!(kinds(&p).contains(&"owner_unmatched"), "{:?}", kinds(&p));
}

#[tokio::test]
async fn categories_map_by_label_and_unmapped_ones_are_reported_once() {
    let fix = setup();
    let mut a = ticket(Side::A, "New", "Medium");
    let b = ticket(Side::B, "New", "Priority 3 - Normal Response");
    fix.agree(&a, &b);
    a.category = Category {
        category: Some("Hardware".into()),
        subcategory: Some("Printer".into()),
        item: None,
    };
    let p = plan(&fix, &a, &b).await;
    let fields = written(&p, Side::B);
    assert_eq!(
        fields.get(keys::CATEGORY).map(String::as_str),
        Some("Incident")
    );
    assert_eq!(
        fields.get(keys::SUBCATEGORY).map(String::as_str),
        Some("Hardware")
    );
    assert_eq!(fields.get(keys::ITEM).map(String::as_str), Some("Printer"));

    a.category.category = Some("Network".into());
    a.category.subcategory = None;
    let p = plan(&fix, &a, &b).await;
    assert!(written(&p, Side::B).is_empty());
    let unmapped: Vec<_> = p
        .audit
        .iter()
        .filter(|l| l.kind == "unmapped_category")
        .collect();
    assert_eq!(unmapped.len(), 1);
    assert_eq!(unmapped[0].detail["value"], "Network /  / ");
    // Planned again (another change on the ticket): not reported twice.
    let mut again = a.clone();
    again.title = "VPN still down".into();
    let p = plan(&fix, &again, &b).await;
    assert!(!kinds(&p).contains(&"unmapped_category"), "{:?}", kinds(&p));
}

/// The MSP side's holder as the planner would have recorded it.
fn record_holder(fix: &Fixture, b: &Ticket) {
    let a = ticket(Side::A, "New", "Medium");
    let mut shadow = fix.agree(&a, b);
    shadow.b.values.insert(
        super::custody::HOLDER.into(),
        super::custody::holder(b).to_string(),
    );
    let key = fix.link.id.to_be_bytes();
    fix.engine
        .store
        .transact(|tx| tx.put(TreeName::Shadows, &key, &shadow))
        .unwrap();
}

fn audit_of(fix: &Fixture, kind: &str) -> Vec<crate::store::AuditEntry> {
    fix.engine
        .store
        .audit_entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

#[tokio::test]
async fn an_owner_set_late_raises_exactly_one_alert_with_its_times() {
    let mut fix = setup();
    let clock = ManualClock::new(fix.link.created_at);
    fix.engine.clock = Arc::new(clock.clone());
    let mut b = ticket(Side::B, "New", "Priority 3 - Normal Response");
    record_holder(&fix, &b);

    clock.advance(Duration::minutes(29));
    assert_eq!(fix.engine.check_unowned().await.unwrap(), 0, "not due yet");
    clock.advance(Duration::minutes(2));
    assert_eq!(fix.engine.check_unowned().await.unwrap(), 1);
    // The owner arrives late; checks go on: still exactly one alert.
    b.assignee.person = person("sam.supervisor@northwind-msp.example");
    clock.advance(Duration::minutes(5));
    assert_eq!(fix.engine.check_unowned().await.unwrap(), 0);

    let alerts = audit_of(&fix, "owner_missing");
    assert_eq!(alerts.len(), 1);
    let d = &alerts[0].detail;
    let created = fix.link.created_at;
    assert_eq!(d["side"], "b");
    assert_eq!(d["escalated_at"], created.to_rfc3339());
    assert_eq!(d["due"], (created + Duration::minutes(30)).to_rfc3339());
    assert_eq!(d["at"], (created + Duration::minutes(31)).to_rfc3339());
    // note = true: one internal note on each side, under fixed markers.
    let notes: Vec<_> = fix
        .engine
        .store
        .outbox()
        .unwrap()
        .into_iter()
        .filter_map(|op| match op.action {
            Action::AddComment { comment, .. } => Some((op.target, comment.marker)),
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_ne!(notes[0].1, notes[1].1);
}

#[tokio::test]
async fn an_owner_set_in_time_raises_nothing() {
    let mut fix = setup();
    let clock = ManualClock::new(fix.link.created_at);
    fix.engine.clock = Arc::new(clock.clone());
    let mut b = ticket(Side::B, "New", "Priority 3 - Normal Response");
    clock.advance(Duration::minutes(10));
    b.assignee.person = person("sam.supervisor@northwind-msp.example");
    record_holder(&fix, &b);
    for _ in 0..4 {
        clock.advance(Duration::minutes(15));
        assert_eq!(fix.engine.check_unowned().await.unwrap(), 0);
    }
    assert!(audit_of(&fix, "owner_missing").is_empty());
    assert!(fix.engine.store.outbox().unwrap().is_empty());
}
