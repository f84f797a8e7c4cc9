//! Rate limits: the simulators never see more requests per second from the
//! bridge than the configured rate plus burst, nor more calls at once than
//! the configured cap (Autotask's 3).

use std::time::Duration;

use psa_bridge::demo::{wait_for, DemoEnv, DemoOptions, AT_USER};
use psa_connectwise::sim::ConnectWiseSimOptions;

use crate::common::{env, Bridge};

/// Escalates `count` new Autotask tickets at once and waits until every one
/// has its ConnectWise ticket and write-back.
async fn escalate_many(env: &DemoEnv, count: usize) {
    let tickets: Vec<i64> = (0..count)
        .map(|i| {
            let t = env.autotask.user_create_ticket(
                &format!("Laptop {i} will not boot"),
                "Blue screen.",
                "Level I Support",
                "Low",
            );
            env.autotask.user_set_queue(t.id, "Escalate to MSP");
            t.id
        })
        .collect();
    wait_for("every escalation", Duration::from_secs(90), || {
        let done = |id: &i64| {
            env.autotask
                .ticket(*id)
                .is_some_and(|t| t.udfs.get("MSP Ticket").is_some_and(|v| !v.is_empty()))
        };
        tickets.iter().all(done).then_some(())
    })
    .await
    .unwrap();
}

fn slow_vendors(env: &DemoEnv, latency_ms: u64) {
    env.autotask
        .control()
        .set_latency(Duration::from_millis(latency_ms));
    env.connectwise
        .control()
        .set_latency(Duration::from_millis(latency_ms));
}

fn cw_user() -> String {
    ConnectWiseSimOptions::default().public_key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_stay_within_the_configured_rate() {
    let (rate, burst) = (4u32, 2u32);
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 1,
        limits: Some((rate, burst)),
        ..Default::default()
    })
    .await;
    slow_vendors(&env, 120);
    let bridge = Bridge::spawn(&env.config_path).await;
    escalate_many(&env, 6).await;
    // The limiter spaces requests as they leave the bridge; arrival times jitter
    // by a few milliseconds on loopback, so the window is shortened by 20 ms.
    let window = Duration::from_millis(980);
    let at = env
        .autotask
        .control()
        .max_requests_in_window(Some(AT_USER), window);
    let cw = env
        .connectwise
        .control()
        .max_requests_in_window(Some(&cw_user()), window);
    println!("busiest second: autotask {at}, connectwise {cw} (limit {rate}/s + burst {burst})");
    assert!(
        at <= (rate + burst) as usize,
        "autotask saw {at} requests in one second"
    );
    assert!(
        cw <= (rate + burst) as usize,
        "connectwise saw {cw} requests in one second"
    );
    // The limiter was saturated: in a window a little longer than a second
    // (a call counts until a second after its answer, 120 ms here, and
    // arrival jitter again) the full rate plus burst went out.
    let wide = Duration::from_millis(1200);
    let at_wide = env
        .autotask
        .control()
        .max_requests_in_window(Some(AT_USER), wide);
    let cw_wide = env
        .connectwise
        .control()
        .max_requests_in_window(Some(&cw_user()), wide);
    println!("busiest 1.2 s: autotask {at_wide}, connectwise {cw_wide}");
    assert!(
        at_wide >= (rate + burst) as usize && cw_wide >= (rate + burst) as usize,
        "the limiter was not saturated: autotask {at_wide}, connectwise {cw_wide}"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_stay_within_the_cap() {
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 1,
        limits: Some((100, 100)),
        ..Default::default()
    })
    .await;
    slow_vendors(&env, 200);
    let bridge = Bridge::spawn(&env.config_path).await;
    escalate_many(&env, 8).await;
    let at = env.autotask.control().most_in_flight(AT_USER);
    let cw = env.connectwise.control().most_in_flight(&cw_user());
    println!("most calls in flight: autotask {at}, connectwise {cw} (cap 3)");
    assert!(at <= 3 && cw <= 3, "autotask {at}, connectwise {cw}");
    assert!(cw >= 2, "deliveries ran in parallel across tickets");
    let refused = env
        .autotask
        .control()
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(refused, 0, "Autotask's thread threshold was hit");
    bridge.stop().await;
}
