//! The compliance check for writes whose answer is lost: the vendor applies a
//! create or a note, then answers 503 or drops the connection. The delivery
//! pattern (look the marker up, then write) must find the applied write on
//! the retry, so nothing is created or posted twice.

use std::collections::BTreeSet;

use chrono::Utc;

use super::{ComplianceLabels, VendorActions};
use crate::connector::Connector;
use crate::model::{NewComment, NewTicket, Visibility};
use crate::sim::AmbiguousReply;

/// Runs the check once for each kind of ambiguous answer.
pub(super) async fn check(
    connector: &dyn Connector,
    vendor: &dyn VendorActions,
    labels: &ComplianceLabels,
) {
    for reply in [AmbiguousReply::Unavailable, AmbiguousReply::Dropped] {
        ambiguous_create_and_note(connector, vendor, labels, reply).await;
    }
}

async fn ambiguous_create_and_note(
    connector: &dyn Connector,
    vendor: &dyn VendorActions,
    labels: &ComplianceLabels,
    reply: AmbiguousReply,
) {
    let control = vendor.control();
    let before = Utc::now() - chrono::Duration::seconds(2);
    let marker = format!(
        "psa-bridge:compliance-{reply:?}:{}",
        Utc::now().timestamp_micros()
    );
    let new = NewTicket {
        title: format!("Escalated: ambiguous create ({reply:?})"),
        description: "Created once, answer lost.".into(),
        status: Some(labels.open_status.clone()),
        priority: Some(labels.priority.clone()),
        marker: marker.clone(),
        placement: labels.placement.clone(),
        fields: Default::default(),
    };
    let garbled = control.ambiguous_writes().len();

    // First delivery attempt: look up, then create; the answer is lost.
    let absent = connector.find_by_marker(&marker).await.expect("find");
    assert!(absent.is_none(), "{marker} found before it was created");
    control.ambiguous_next_writes(reply, 1);
    let err = connector
        .create_ticket(&new)
        .await
        .expect_err("a create answered ambiguously must fail");
    assert!(
        err.is_retryable(),
        "an ambiguous create ({reply:?}) must be retryable, got {err:?}"
    );
    assert_eq!(
        control.ambiguous_writes().len(),
        garbled + 1,
        "the create was not applied as one write through the simulator"
    );

    // The retry looks the marker up first and adopts the applied ticket.
    let found = connector
        .find_by_marker(&marker)
        .await
        .expect("find after ambiguous create")
        .unwrap_or_else(|| panic!("the applied create ({reply:?}) is not found by its marker"));
    assert_eq!(found.marker.as_deref(), Some(marker.as_str()));
    assert_eq!(tickets_with_marker(connector, before, &marker).await, 1);

    // A note whose answer is lost is listed once, with its marker, so the
    // retry's lookup adopts it instead of posting it again.
    let note_marker = format!("{marker}-note");
    let note = NewComment {
        body: "Restarted the VPN concentrator.".into(),
        visibility: Visibility::Public,
        marker: note_marker.clone(),
        resolution: false,
    };
    control.ambiguous_next_writes(reply, 1);
    let err = connector
        .add_comment(&found.id, &note)
        .await
        .expect_err("a note answered ambiguously must fail");
    assert!(
        err.is_retryable(),
        "an ambiguous note ({reply:?}) must be retryable, got {err:?}"
    );
    assert_eq!(control.ambiguous_writes().len(), garbled + 2);
    let comments = connector
        .list_comments(&found.id)
        .await
        .expect("list_comments after ambiguous note");
    let listed: Vec<_> = comments
        .iter()
        .filter(|c| c.marker.as_deref() == Some(note_marker.as_str()))
        .collect();
    assert_eq!(
        listed.len(),
        1,
        "the applied note ({reply:?}) must be listed once with its marker: {comments:?}"
    );
    assert_eq!(listed[0].body.trim(), "Restarted the VPN concentrator.");
    assert_eq!(listed[0].visibility, Visibility::Public);
}

/// How many tickets changed since `since` carry `marker`, read one by one.
async fn tickets_with_marker(
    connector: &dyn Connector,
    since: chrono::DateTime<Utc>,
    marker: &str,
) -> usize {
    let hints = connector.changed_since(since).await.expect("changed_since");
    let ids: BTreeSet<String> = hints.into_iter().map(|h| h.ticket_id).collect();
    let mut count = 0;
    for id in ids {
        let ticket = connector.get_ticket(&id).await.expect("get_ticket");
        if ticket.marker.as_deref() == Some(marker) {
            count += 1;
        }
    }
    count
}
