//! Webhooks end to end: the connector registers on the simulator, human and
//! API changes are delivered to a receiver, and every delivery verifies.

mod common;

use psa_connector::{Connector, TicketUpdate};

#[tokio::test]
async fn registered_webhooks_deliver_verifiable_events() {
    let sim = common::sim().await;
    let mut settings = common::settings(&sim);
    settings.webhook_excluded_resource_id = Some(29682940); // the bridge's own API user
    let c = common::connector(settings);
    let (url, inbox) = common::receiver().await;
    c.register_webhook(&url).await.unwrap();
    let writes = sim.control().writes_by("bridge@example.com").len();
    c.register_webhook(&url).await.unwrap();
    assert_eq!(
        sim.control().writes_by("bridge@example.com").len(),
        writes + 2,
        "registering again writes only each webhook's secret"
    );

    let t = sim.user_create_ticket(
        "Müller's VPN & <DNS> + more",
        "d",
        "Level I Support",
        "Medium",
    );
    sim.user_set_status(t.id, "In Progress");
    sim.user_set_priority(t.id, "High");
    sim.user_add_note(t.id, "Called the ISP", true, "Tina Tech");
    sim.wait_webhooks_idle().await;
    let received = inbox.lock().unwrap().clone();
    // create, status, priority (ticket webhook) + note creation (note webhook).
    assert_eq!(
        received.len(),
        4,
        "{:?}",
        received
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).to_string())
            .collect::<Vec<_>>()
    );
    let mut keys = Vec::new();
    for r in &received {
        assert!(r.body.is_ascii(), "Autotask escapes non-ASCII");
        let hints = c
            .verify_webhook(r)
            .await
            .expect("genuine delivery verifies");
        assert_eq!(hints.len(), 1);
        assert_eq!(hints[0].ticket_id, t.id.to_string());
        keys.push(hints[0].dedup_key.clone());
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4, "every delivery has its own dedup key");

    // The bridge's own writes are excluded: no echo.
    inbox.lock().unwrap().clear();
    c.update_ticket(
        &t.id.to_string(),
        &TicketUpdate {
            status: Some("Waiting Customer".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    sim.wait_webhooks_idle().await;
    assert!(inbox.lock().unwrap().is_empty(), "API user is excluded");

    // Turning webhooks off silences human changes too.
    sim.set_webhooks_enabled(false);
    sim.user_set_queue(t.id, "Level II Support");
    sim.wait_webhooks_idle().await;
    assert!(inbox.lock().unwrap().is_empty());
    assert_eq!(sim.ticket(t.id).unwrap().queue, "Level II Support");
}
