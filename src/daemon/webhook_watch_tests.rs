//! The webhook watcher against the simulators with a manual clock: periodic
//! checks, the vendor's deactivation notice, silence detection, and the
//! repair (re-registration and a catch-up poll storing the gap's change
//! once), without sleeps.

use std::sync::Arc;

use chrono::{Duration as Span, Utc};
use psa_connector::WebhookRequest;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::demo::{DemoEnv, DemoOptions};
use crate::store::{IntakeSource, Store};

/// Nothing listens here: deliveries fail (and count towards deactivation).
const URL: &str = "http://127.0.0.1:9/webhooks/autotask";

struct Setup {
    _dir: tempfile::TempDir,
    env: DemoEnv,
    engine: Arc<Engine>,
    clock: ManualClock,
    activity: Arc<WebhookActivity>,
    watch: Watch,
}

const SETTINGS: WatchSettings = WatchSettings {
    check_every: Span::seconds(600),
    poll_interval: Span::seconds(60),
    poll_overlap: Span::seconds(30),
};

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let env = DemoEnv::start(dir.path(), &DemoOptions::default())
        .await
        .unwrap();
    let loaded = crate::config::load(&env.config_path, &|_| None).unwrap();
    // Behind the simulators' real clock, so the gap's vendor stamps fall
    // inside the catch-up window however far the test moves the clock.
    let clock = ManualClock::new(Utc::now() - Span::hours(3));
    let engine = Arc::new(Engine::new(
        Store::open(&dir.path().join("store")).unwrap(),
        crate::connections::build_all(&loaded.config.connections).unwrap(),
        loaded.pairings,
        Arc::new(clock.clone()),
        Default::default(),
    ));
    let connector = engine.connection("autotask").unwrap().connector.clone();
    connector.register_webhook(URL).await.unwrap();
    let health = Health::default();
    health.set_registration("autotask", Registration::Registered { attempts: 1 });
    let activity = WebhookActivity::new(engine.clock.clone());
    let watch = Watch::new(
        engine.clone(),
        "autotask",
        URL,
        SETTINGS,
        health,
        activity.clone(),
    );
    Setup {
        _dir: dir,
        env,
        engine,
        clock,
        activity,
        watch,
    }
}

/// A poller round (from an hour back in the simulators' time).
async fn poll(engine: &Engine) {
    crate::ingest::poll_since(engine, "autotask", Utc::now() - Span::hours(1))
        .await
        .unwrap();
}

fn kinds(engine: &Engine) -> Vec<String> {
    engine
        .store
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k != "intake")
        .collect()
}

fn inbox_tickets(engine: &Engine) -> Vec<String> {
    engine
        .store
        .inbox()
        .unwrap()
        .into_iter()
        .filter(|i| i.connection == "autotask")
        .map(|i| i.ticket_id)
        .collect()
}

#[tokio::test]
async fn a_periodic_check_repairs_a_deactivated_webhook_and_polls_the_gap() {
    let mut s = setup().await;
    assert_eq!(s.watch.tick().await, None, "not due before the interval");
    s.clock.advance(Span::seconds(601));
    assert_eq!(
        s.watch.tick().await,
        Some((Reason::Periodic, Outcome::Healthy))
    );
    assert_eq!(s.watch.tick().await, None);
    assert!(
        kinds(&s.engine).is_empty(),
        "a healthy check is not audited"
    );

    // Autotask deactivates the webhooks; a change made meanwhile raises no event.
    s.env.autotask.deactivate_webhooks();
    s.env.autotask.wait_webhooks_idle().await;
    let gap =
        s.env
            .autotask
            .user_create_ticket("Made in the gap", "d", "Level I Support", "Medium");
    s.clock.advance(Span::seconds(300));
    assert_eq!(s.watch.tick().await, None, "found at the next check only");
    s.clock.advance(Span::seconds(301));
    let (reason, outcome) = s.watch.tick().await.unwrap();
    assert_eq!(reason, Reason::Periodic);
    assert!(
        matches!(outcome, Outcome::Repaired { caught_up } if caught_up >= 1),
        "{outcome:?}"
    );
    assert!(s.env.autotask.webhooks().iter().all(|h| h.active));
    assert_eq!(
        kinds(&s.engine),
        [
            "webhook_disabled_detected",
            "webhook_reregistered",
            "catch_up_poll"
        ]
    );
    let entries = s.engine.store.audit_entries().unwrap();
    let catch_up = entries.iter().find(|e| e.kind == "catch_up_poll").unwrap();
    assert_eq!(catch_up.detail["gap_secs"], 601, "{:?}", catch_up.detail);
    let gap_id = gap.id.to_string();
    let stored = inbox_tickets(&s.engine);
    assert_eq!(
        stored.iter().filter(|t| **t == gap_id).count(),
        1,
        "{stored:?}"
    );
    let intake = s.engine.store.inbox().unwrap();
    assert!(intake
        .iter()
        .filter(|i| i.ticket_id == gap_id)
        .all(|i| i.source == IntakeSource::Poll));
    // The gap polled again stores nothing twice.
    let again = crate::ingest::poll_since(&s.engine, "autotask", Utc::now() - Span::hours(1))
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn the_vendors_deactivation_notice_triggers_a_check_at_once() {
    let mut s = setup().await;
    assert_eq!(s.watch.tick().await, None);
    let before = s.env.autotask.control().webhook_deliveries().len();
    s.env.autotask.deactivate_webhooks();
    s.env.autotask.wait_webhooks_idle().await;
    // The notices went to the deactivation URL; the receiver would hand
    // them to the connector, which verifies them.
    let notices = s.env.autotask.control().webhook_deliveries()[before..].to_vec();
    assert_eq!(notices.len(), 2, "one per webhook kind");
    let connector = s.engine.connection("autotask").unwrap().connector.clone();
    let mut headers = http::HeaderMap::new();
    for (name, value) in &notices[0].headers {
        headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let request = WebhookRequest {
        headers,
        query: None,
        body: notices[0].body.clone().into(),
    };
    assert!(connector.verify_webhook(&request).await.unwrap().is_empty());
    // No time has passed: the notice alone makes the check due.
    let (reason, outcome) = s.watch.tick().await.unwrap();
    assert_eq!(reason, Reason::Deactivated);
    assert!(matches!(outcome, Outcome::Repaired { .. }), "{outcome:?}");
    assert!(s.env.autotask.webhooks().iter().all(|h| h.active));
    assert_eq!(s.watch.tick().await, None, "handled once");
}

#[tokio::test]
async fn silence_while_polling_finds_changes_triggers_a_check() {
    let mut s = setup().await;
    assert_eq!(s.watch.tick().await, None, "reads the cursor");
    poll(&s.engine).await;
    s.clock.advance(Span::seconds(90));
    assert_eq!(s.watch.tick().await, None, "baseline");
    // A change the webhook did not bring (deliveries fail), found by polling.
    s.env.autotask.set_webhooks_enabled(false);
    s.env
        .autotask
        .user_create_ticket("Polled only", "d", "Level I Support", "Medium");
    poll(&s.engine).await;
    let (reason, outcome) = s.watch.tick().await.unwrap();
    assert_eq!((reason, outcome), (Reason::Silence, Outcome::Healthy));
    assert_eq!(s.watch.tick().await, None, "at most once per poll interval");

    // A recent delivery means webhooks are not silent.
    s.clock.advance(Span::seconds(61));
    s.activity.record("autotask");
    s.env
        .autotask
        .user_create_ticket("Polled too", "d", "Level I Support", "Medium");
    poll(&s.engine).await;
    assert_eq!(s.watch.tick().await, None);
}

#[tokio::test]
async fn nothing_is_checked_before_the_start_up_registration_is_done() {
    let mut s = setup().await;
    s.watch.health = Health::default();
    s.clock.advance(Span::seconds(6000));
    assert_eq!(s.watch.tick().await, None);
    s.watch
        .health
        .set_registration("autotask", Registration::Registered { attempts: 1 });
    assert_eq!(
        s.watch.tick().await,
        Some((Reason::Periodic, Outcome::Healthy))
    );
}

#[tokio::test]
async fn deliveries_are_observed_only_when_accepted() {
    let clock = ManualClock::new(Utc::now());
    let activity = WebhookActivity::new(Arc::new(clock.clone()));
    let app = axum::Router::new()
        .route(
            "/webhooks/{c}",
            axum::routing::post(
                |axum::extract::Path(c): axum::extract::Path<String>| async move {
                    if c == "good" {
                        axum::http::StatusCode::OK
                    } else {
                        axum::http::StatusCode::UNAUTHORIZED
                    }
                },
            ),
        )
        .layer(axum::middleware::from_fn_with_state(
            activity.clone(),
            observe,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    for c in ["good", "bad"] {
        client
            .post(format!("http://{addr}/webhooks/{c}"))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(activity.last("good"), Some(clock.now()));
    assert_eq!(activity.last("bad"), None);
}
