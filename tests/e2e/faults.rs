//! Convergence under faults: a planning read that fails once is retried in
//! place, so the notice is planned in the same step instead of going back on
//! the retry schedule (checked on a frozen manual clock, where a rescheduled
//! notice would never become due).

use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{env, STEP};
use crate::retries::manual_daemon;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_read_failure_does_not_reschedule_planning() {
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    let (daemon, _frozen) = manual_daemon(&env).await;
    // The first two Autotask reads after this (the planner fetching the
    // escalated ticket) answer 503.
    env.autotask.control().fail_next_reads(&[503, 503]);
    let t = env.autotask.user_create_ticket(
        "Email bouncing",
        "All mail to contoso.com bounces.",
        "Escalate to MSP",
        "Medium",
    );
    wait_for("the escalation", STEP, || {
        (env.connectwise.tickets().len() == 1).then_some(())
    })
    .await
    .unwrap();
    let failed_reads = env
        .autotask
        .control()
        .requests()
        .iter()
        .filter(|r| r.status == 503)
        .count();
    assert_eq!(failed_reads, 2, "both injected faults were hit");
    let audit = daemon.engine.store.audit_entries().unwrap();
    assert!(audit.iter().all(|e| e.kind != "plan_failed"), "{audit:#?}");
    assert!(env.autotask.ticket(t.id).is_some());
    daemon.shutdown().await;
}
