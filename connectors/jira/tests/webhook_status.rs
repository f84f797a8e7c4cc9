//! The admin webhook's status and removal against the simulator: registered
//! once, status shows it enabled; an administrator disables it → status says
//! so and registering again enables the same webhook; remove deletes it.

mod common;

use psa_connector::Connector;

#[tokio::test]
async fn register_status_disable_repair_and_removal() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim, "HELP");
    let url = "http://127.0.0.1:9/webhooks/jira";
    let before = c.webhook_status(url).await.unwrap();
    assert!(!before.registered() && before.needs_repair());

    c.register_webhook(url).await.unwrap();
    c.register_webhook(url).await.unwrap();
    let status = c.webhook_status(url).await.unwrap();
    assert!(status.healthy(), "{status:?}");
    assert_eq!(status.hooks.len(), 1);
    assert!(status.hooks[0]
        .events
        .iter()
        .any(|e| e == "comment_created"));

    sim.disable_webhooks();
    let status = c.webhook_status(url).await.unwrap();
    assert!(
        status.needs_repair() && !status.hooks[0].active,
        "{status:?}"
    );
    assert!(
        status.problems[0].contains("disabled"),
        "{:?}",
        status.problems
    );

    c.register_webhook(url).await.unwrap();
    assert_eq!(sim.webhooks_enabled_by_url(), vec![(url.to_string(), true)]);
    assert!(c.webhook_status(url).await.unwrap().healthy());
    assert!(sim.webhooks()[0].3, "the secret is kept");

    assert_eq!(c.remove_webhook(url).await.unwrap(), 1);
    assert!(sim.webhooks().is_empty());
    assert_eq!(c.remove_webhook(url).await.unwrap(), 0);
}
