//! The compliance kit's owner and category round-trip: every connector
//! finds a person by e-mail, assigns the ticket to them and to a group,
//! sets its category labels, reads all of it back, discovers the labels for
//! `check`, and clears the person again.

use crate::connector::Connector;
use crate::model::{keys, TicketUpdate};

use super::VendorActions;

/// What the kit may assign on this simulator (labels as `check` sees them);
/// labels the vendor cannot write stay `None` and are not checked.
pub struct OwnerLabels {
    /// E-mail of a person the vendor knows (matched case-insensitively).
    pub person_email: String,
    /// A group label the vendor accepts, where it has groups.
    pub group: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    pub item: Option<String>,
}

/// Runs the round-trip; panics on the first broken promise.
pub async fn run_owners(
    connector: &dyn Connector,
    vendor: &dyn VendorActions,
    labels: &OwnerLabels,
) {
    let wanted = labels.person_email.to_uppercase();
    let person = connector
        .find_person(&wanted)
        .await
        .expect("find_person")
        .unwrap_or_else(|| panic!("find_person misses {}", labels.person_email));
    assert_eq!(
        person.email.as_deref().map(str::to_lowercase),
        Some(labels.person_email.to_lowercase()),
        "find_person answers the person with that e-mail"
    );
    assert_eq!(
        connector
            .find_person("nobody-at-all@invalid.example")
            .await
            .expect("find_person of an unknown e-mail"),
        None
    );
    let catalog = connector
        .discover_picklists()
        .await
        .expect("discover_picklists");
    for (key, label) in [
        (keys::GROUPS, &labels.group),
        (keys::CATEGORIES, &labels.category),
        (keys::SUBCATEGORIES, &labels.subcategory),
        (keys::ITEMS, &labels.item),
    ] {
        if let Some(label) = label {
            assert!(
                catalog.get(key).is_some_and(|l| l.contains(label)),
                "discover_picklists misses {key} {label:?}: {catalog:?}"
            );
        }
    }

    let id = vendor.user_creates_ticket("Owner round trip").await;
    let mut update = TicketUpdate::default();
    update.fields.insert(keys::PERSON.into(), person.id.clone());
    for (key, label) in [
        (keys::GROUP, &labels.group),
        (keys::CATEGORY, &labels.category),
        (keys::SUBCATEGORY, &labels.subcategory),
        (keys::ITEM, &labels.item),
    ] {
        if let Some(label) = label {
            update.fields.insert(key.into(), label.clone());
        }
    }
    let stored = connector
        .update_ticket_stored(&id, &update)
        .await
        .expect("assign and categorise");
    let read = connector.get_ticket(&id).await.expect("get_ticket");
    for t in [&stored, &read] {
        let got = t
            .assignee
            .person
            .as_ref()
            .expect("the assigned person reads back");
        assert_eq!(got.id, person.id, "assigned person id");
        assert_eq!(
            got.email.as_deref().map(str::to_lowercase),
            Some(labels.person_email.to_lowercase()),
            "assigned person's e-mail reads back"
        );
        if labels.group.is_some() {
            assert_eq!(t.assignee.group, labels.group, "group reads back");
        }
        for (got, wanted, what) in [
            (&t.category.category, &labels.category, "category"),
            (&t.category.subcategory, &labels.subcategory, "subcategory"),
            (&t.category.item, &labels.item, "item"),
        ] {
            if wanted.is_some() {
                assert_eq!(got, wanted, "{what} reads back");
            }
        }
    }

    let mut clear = TicketUpdate::default();
    clear.fields.insert(keys::PERSON.into(), String::new());
    connector
        .update_ticket(&id, &clear)
        .await
        .expect("unassign");
    let read = connector.get_ticket(&id).await.expect("get_ticket");
    assert_eq!(read.assignee.person, None, "an empty person unassigns");
    if labels.category.is_some() {
        assert_eq!(
            read.category.category, labels.category,
            "unassigning keeps the category"
        );
    }
}
