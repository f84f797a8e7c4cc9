//! An update returns the ticket as ConnectWise stored it, taken from the
//! PATCH answer: no second request to read it back.

mod common;

use psa_connector::{Connector, TicketUpdate};
use psa_connectwise::sim::ConnectWiseSimOptions;

#[tokio::test]
async fn the_patch_answer_is_the_stored_ticket() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim);
    let t = sim.user_create_ticket(
        "Printer",
        "Co-Managed",
        "ACME",
        "Priority 3 - Normal Response",
    );
    let id = t.id.to_string();
    let update = TicketUpdate {
        title: Some(format!("{}  ", "x".repeat(120))),
        priority: Some("Priority 1 - Emergency Response".into()),
        ..Default::default()
    };
    let user = ConnectWiseSimOptions::default().public_key;
    let before = sim.control().requests().len();
    let stored = c.update_ticket_stored(&id, &update).await.unwrap();
    let calls: Vec<String> = sim.control().requests()[before..]
        .iter()
        .filter(|r| r.user.as_deref() == Some(user.as_str()))
        .filter(|r| r.path.ends_with(&format!("/service/tickets/{id}")))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls.len(),
        1,
        "the ticket is written once and not read back: {calls:?}"
    );
    assert!(calls[0].starts_with("PATCH"), "{calls:?}");
    assert_eq!(stored.title, "x".repeat(100), "the summary as stored (cut)");
    assert_eq!(stored.priority, "Priority 1 - Emergency Response");
}
