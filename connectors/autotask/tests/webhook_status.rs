//! Webhook status and removal against the simulator: registration is
//! idempotent and excludes the API user's resource (found by user name);
//! Autotask deactivates a webhook after 25 consecutive failed deliveries and
//! posts a signed `Deactivated` notice; status shows it, register repairs
//! it, remove deletes both kinds; malformed answers give clear errors; the
//! tenant's shared request budget slows and pauses the connector before the
//! vendor refuses.

mod common;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use psa_connector::{BudgetState, Connector, ConnectorError, WebhookRequest};

const BRIDGE_RESOURCE: i64 = 29682940;

/// A receiver answering every request with the status in `answer`;
/// keeps what it got.
async fn receiver(answer: Arc<AtomicU16>) -> (String, common::Inbox) {
    let inbox: common::Inbox = Default::default();
    let sink = inbox.clone();
    let app = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (sink, answer) = (sink.clone(), answer.clone());
            async move {
                sink.lock().unwrap().push(WebhookRequest {
                    headers,
                    query: None,
                    body,
                });
                axum::http::StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/webhooks/autotask"), inbox)
}

#[tokio::test]
async fn register_twice_status_deactivation_repair_and_removal() {
    let sim = common::sim().await;
    // No webhook_excluded_resource_id: the API user's resource is looked up.
    let c = common::connector(common::settings(&sim));
    let answer = Arc::new(AtomicU16::new(200));
    let (url, inbox) = receiver(answer.clone()).await;

    let before = c.webhook_status(&url).await.unwrap();
    assert!(before.supported && !before.registered() && before.needs_repair());
    assert_eq!(before.problems.len(), 2, "{:?}", before.problems);

    c.register_webhook(&url).await.unwrap();
    c.register_webhook(&url).await.unwrap();
    let hooks = sim.webhooks();
    assert_eq!(hooks.len(), 2, "one ticket and one note webhook: {hooks:?}");
    for h in &hooks {
        assert!(h.active, "{h:?}");
        assert_eq!(h.excluded, vec![BRIDGE_RESOURCE], "{h:?}");
    }
    let status = c.webhook_status(&url).await.unwrap();
    assert!(status.healthy(), "{status:?}");
    let kinds: Vec<&str> = status.hooks.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["ticket", "note"]);
    let ticket = &status.hooks[0];
    assert!(ticket.fields.iter().any(|f| f == "status"), "{ticket:?}");
    assert!(ticket.fields.iter().any(|f| f == "ticketNumber"));
    assert_eq!(ticket.excluded_resources, [BRIDGE_RESOURCE.to_string()]);
    assert_eq!(ticket.events, ["create", "update"]);

    // The receiver fails: after 25 failed deliveries in a row Autotask
    // deactivates the ticket webhook and says so at the DeactivationUrl.
    answer.store(500, Ordering::SeqCst);
    let t = sim.user_create_ticket("Printer", "d", "Level I Support", "Medium");
    for i in 0..24 {
        let title = format!("Printer {i}");
        sim.user_set_text(t.id, &title, "d");
        sim.wait_webhooks_idle().await;
    }
    let ticket_hook = |sim: &psa_autotask::AutotaskSim| {
        sim.webhooks()
            .into_iter()
            .find(|h| h.entity == "Ticket")
            .unwrap()
    };
    assert!(!ticket_hook(&sim).active, "{:?}", sim.webhooks());
    assert_eq!(ticket_hook(&sim).failures, 25);
    let received = inbox.lock().unwrap().clone();
    let notice = received.last().unwrap();
    assert!(std::str::from_utf8(&notice.body)
        .unwrap()
        .contains("\"Deactivated\""));
    // The notice is signed: verified, it raises the connector's flag once.
    assert!(!c.take_webhook_deactivated());
    assert_eq!(c.verify_webhook(notice).await.unwrap(), vec![]);
    assert!(c.take_webhook_deactivated());
    assert!(!c.take_webhook_deactivated());
    // A forged notice does not.
    let mut forged = notice.clone();
    forged.headers.insert(
        "x-hook-signature",
        "sha1=AAAAAAAAAAAAAAAAAAAAAAAAAAA=".parse().unwrap(),
    );
    assert!(c.verify_webhook(&forged).await.is_err());
    assert!(!c.take_webhook_deactivated());

    let status = c.webhook_status(&url).await.unwrap();
    assert!(status.needs_repair(), "{status:?}");
    assert!(
        status.problems.iter().any(|p| p.contains("inactive")),
        "{:?}",
        status.problems
    );
    assert!(!status.hooks[0].active);

    answer.store(200, Ordering::SeqCst);
    c.register_webhook(&url).await.unwrap();
    assert!(c.webhook_status(&url).await.unwrap().healthy());
    assert_eq!(sim.webhooks().len(), 2, "repaired, not duplicated");

    assert_eq!(c.remove_webhook(&url).await.unwrap(), 2);
    assert!(sim.webhooks().is_empty());
    assert_eq!(c.remove_webhook(&url).await.unwrap(), 0);
    let gone = c.webhook_status(&url).await.unwrap();
    assert!(!gone.registered() && gone.needs_repair());
}

#[tokio::test]
async fn malformed_status_answers_are_clear_errors() {
    let fields = r#"{"fields":[{"name":"fieldID","isPickList":true,"picklistValues":[
        {"value":"3","label":"title","isActive":true},{"value":"1","label":"ticketNumber","isActive":true},
        {"value":"4","label":"description","isActive":true},{"value":"2","label":"ticketID","isActive":true}]}]}"#;
    let resources = r#"{"items":[{"id":7,"userName":"bridge@example.com"}],"pageDetails":{}}"#;
    for (hooks, wanted) in [
        (
            r#"{"items":[{"name":"x"}],"pageDetails":{}}"#,
            "no integer id",
        ),
        (r#"{"items":["x"],"pageDetails":{}}"#, "not an object"),
        (r#"not json"#, "TicketWebhooks"),
    ] {
        let api = common::fake(vec![
            ("resources/query", 200, resources.to_string()),
            ("webhookfields/entityinformation/fields", 200, fields.into()),
            ("ticketwebhooks/query", 200, hooks.to_string()),
        ])
        .await;
        let mut settings = common::settings_for_api(&api);
        settings.webhook_secret = Some("s".into());
        let c = common::connector(settings);
        let err = c
            .webhook_status("http://bridge/webhooks/a")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, ConnectorError::InvalidResponse(_)) && text.contains(wanted),
            "{hooks}: {text}"
        );
    }
    // The API user has no resource: a configuration error saying what to set.
    let api = common::fake(vec![(
        "resources/query",
        200,
        r#"{"items":[],"pageDetails":{}}"#.into(),
    )])
    .await;
    let c = common::connector(common::settings_for_api(&api));
    let err = c
        .webhook_status("http://bridge/webhooks/a")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("webhook_excluded_resource_id"),
        "{err}"
    );
}

#[tokio::test]
async fn the_tenant_budget_pauses_the_bridge_before_the_vendor_refuses() {
    let sim = common::sim().await;
    sim.set_request_threshold(200);
    let mut settings = common::settings(&sim);
    settings.api_budget_share = 0.5;
    settings.api_budget_check_secs = 0; // read before every call (test)
    let c = common::connector(settings);
    assert_eq!(c.budget(), None, "not read yet");
    c.get_ticket("1").await.ok();
    let b = c.budget().unwrap();
    assert_eq!((b.threshold, b.state), (200, BudgetState::Ok));

    // Another integration uses the tenant up to near its threshold: the
    // bridge's pause point is 150 (half-way from its share, 100, to 200).
    sim.set_external_requests(160);
    let sent = sim.control().requests().len();
    for _ in 0..20 {
        let err = c.get_ticket("1").await.unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Http { status: 429, message, .. } if message.contains("paused by the bridge")),
            "{err}"
        );
        assert!(err.is_retryable());
    }
    assert_eq!(c.budget().unwrap().state, BudgetState::Paused);
    let paths: Vec<String> = sim.control().requests()[sent..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(
        paths.iter().all(|p| p.ends_with("/ThresholdInformation")),
        "only the budget was read while paused: {paths:?}"
    );
    assert_eq!(
        sim.threshold_refusals(),
        0,
        "the vendor never had to refuse"
    );

    // The other integration calms down: the bridge works again.
    sim.set_external_requests(0);
    c.get_ticket("1").await.ok();
    assert_eq!(c.budget().unwrap().state, BudgetState::Ok);
    assert_eq!(sim.threshold_refusals(), 0);
}

#[tokio::test]
async fn past_its_share_the_bridge_slows_down() {
    let sim = common::sim().await;
    sim.set_request_threshold(100_000);
    sim.set_external_requests(60_000);
    let mut settings = common::settings(&sim);
    settings.api_budget_share = 0.5;
    let c = common::connector(settings);
    c.get_ticket("1").await.ok();
    let b = c.budget().unwrap();
    assert_eq!((b.used > 60_000, b.state), (true, BudgetState::Slowing));
    // Without external usage the same share is full speed.
    sim.set_external_requests(0);
    assert_eq!(c.read_budget_now().await.unwrap().state, BudgetState::Ok);
}

#[tokio::test]
async fn the_simulator_refuses_calls_over_the_tenant_threshold() {
    let sim = common::sim().await;
    sim.set_request_threshold(50);
    sim.set_external_requests(50);
    let http = common::api_client();
    let base = format!("{}V1.0/", sim.api_url());
    let r = http.get(format!("{base}Tickets/1")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let info: serde_json::Value = http
        .get(format!("{base}ThresholdInformation"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["externalRequestThreshold"], 50);
    assert!(info["currentTimeframeRequestCount"].as_u64().unwrap() >= 51);
    assert_eq!(sim.threshold_refusals(), 1);
}
