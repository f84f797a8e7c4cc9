//! Supervision inside a real daemon: a task that panics is restarted and
//! `/healthz` on both listeners says so (the failure text only to holders of
//! the admin token); shutdown still ends everything.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use psa_bridge::daemon::{RestartPolicy, Tuning};
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{env, STEP};

async fn healthz(url: String) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `/healthz` with the admin token (error texts included).
async fn healthz_with(url: String, token: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_is_restarted_and_health_shows_it() {
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 60,
        ..Default::default()
    })
    .await;
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let token_file = psa_bridge::admin::token::token_file(&loaded.store_path);
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon)
        .await
        .unwrap();
    let tuning = Tuning {
        restart: RestartPolicy {
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(20),
            healthy_after: Duration::from_secs(3600),
        },
        ..Tuning::default()
    };
    let mut daemon = psa_bridge::daemon::start_with(
        loaded,
        listeners,
        Arc::new(psa_bridge::clock::SystemClock),
        tuning,
    )
    .await
    .unwrap();
    let admin = format!("http://{}/healthz", daemon.admin_addr);
    let public = format!("http://{}/healthz", daemon.addr);

    // Panics on its first two runs, then runs until stopped.
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    daemon.supervise("injected", move |stop| {
        let run = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if run < 2 {
                panic!("injected panic #{run}");
            }
            stop.wait().await;
        }
    });
    wait_for("two restarts", STEP, || {
        daemon
            .health
            .task("injected")
            .filter(|t| t.restarts == 2 && t.state == psa_bridge::daemon::TaskState::Running)
    })
    .await
    .unwrap();
    let token = std::fs::read_to_string(&token_file).unwrap();
    let (code, body) = healthz_with(admin.clone(), token.trim()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["tasks"]["injected"]["restarts"], 2, "{body}");
    assert_eq!(
        body["tasks"]["injected"]["last_failure"], "panicked: injected panic #1",
        "{body}"
    );
    // Without the token the admin listener shows no error text either.
    let (_, body) = healthz(admin.clone()).await;
    assert_eq!(body["tasks"]["injected"]["restarts"], 2, "{body}");
    assert!(body["tasks"]["injected"].get("last_failure").is_none());
    let (code, body) = healthz(public.clone()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["tasks"]["injected"]["restarts"], 2, "{body}");
    assert!(body["tasks"]["injected"].get("last_failure").is_none());

    // A task that keeps failing (down between restarts): 503 on both listeners.
    daemon.supervise("broken", |_stop| async { panic!("always") });
    for url in [admin, public] {
        let deadline = tokio::time::Instant::now() + STEP;
        let body = loop {
            let (code, body) = healthz(url.clone()).await;
            if code == 503 {
                break body;
            }
            assert!(tokio::time::Instant::now() < deadline, "never 503: {body}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(body["status"], "failing", "{body}");
        assert_eq!(body["tasks"]["broken"]["state"], "restarting", "{body}");
    }
    assert!(
        runs.load(Ordering::SeqCst) == 3,
        "the healed task was not restarted again"
    );
    tokio::time::timeout(STEP, daemon.shutdown())
        .await
        .expect("shutdown ends supervised tasks, even one in backoff");
}
