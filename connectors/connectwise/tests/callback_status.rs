//! Callback status and removal against the simulator: registering twice
//! leaves one callback, status shows it active; deliveries that keep failing
//! get it deactivated (ConnectWise: after 3 days; the simulator's span is
//! shortened) and status says so; register reactivates it; remove deletes it.

mod common;

use std::time::Duration;

use psa_connector::Connector;

#[tokio::test]
async fn register_status_deactivation_repair_and_removal() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim);
    // Nothing listens here: every delivery fails.
    let url = "http://127.0.0.1:9/webhooks/connectwise";

    let before = c.webhook_status(url).await.unwrap();
    assert!(!before.registered() && before.needs_repair(), "{before:?}");

    c.register_webhook(url).await.unwrap();
    c.register_webhook(url).await.unwrap();
    assert_eq!(sim.callbacks().len(), 1);
    let status = c.webhook_status(url).await.unwrap();
    assert!(status.healthy(), "{status:?}");
    assert_eq!(status.hooks[0].url, format!("{url}?id="));

    // Failing deliveries: the first ones within the span keep it active …
    let t = sim.user_create_ticket(
        "Printer",
        "Co-Managed",
        "ACME",
        "Priority 3 - Normal Response",
    );
    sim.wait_callbacks_idle().await;
    assert!(sim.callbacks()[0].1, "one failure is not 3 days");
    assert_eq!(sim.callback_failures()[0].1, 1);
    // … until they have failed for the whole span.
    sim.set_callback_disable_after(Duration::ZERO);
    sim.user_set_summary(t.id, "Printer on fire");
    sim.wait_callbacks_idle().await;
    assert!(!sim.callbacks()[0].1, "deactivated");
    let status = c.webhook_status(url).await.unwrap();
    assert!(status.needs_repair());
    assert!(!status.hooks[0].active);
    assert!(
        status.problems[0].contains("inactive"),
        "{:?}",
        status.problems
    );

    c.register_webhook(url).await.unwrap();
    assert!(c.webhook_status(url).await.unwrap().healthy());
    assert_eq!(sim.callbacks().len(), 1, "reactivated, not duplicated");

    assert_eq!(c.remove_webhook(url).await.unwrap(), 1);
    assert!(sim.callbacks().is_empty());
    assert_eq!(c.remove_webhook(url).await.unwrap(), 0);
}
