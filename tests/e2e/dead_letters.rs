//! Dead letters: a dead operation holds back its own ticket's queue (and only
//! that one), visibly; `outbox retry` of a stale field update re-plans from
//! current state instead of replaying the old value; notices that fail
//! planning for good are kept and retryable; a deleted far ticket unlinks,
//! whether a notice or a delivery meets the deletion first.

use std::sync::Arc;
use std::time::Duration;

use psa_bridge::daemon::Daemon;
use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoEnv, DemoOptions};
use psa_bridge::engine::Engine;

use crate::common::{cli, env, text, STEP};

const P2: &str = "Priority 2 - Quick Response";
const P4: &str = "Priority 4 - Schedule Maintenance";

/// Webhooks only (no polling): a change the vendor does not announce stays unseen.
async fn start(env: &DemoEnv) -> Daemon {
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon)
        .await
        .unwrap();
    psa_bridge::daemon::start(loaded, listeners, Arc::new(psa_bridge::clock::SystemClock))
        .await
        .unwrap()
}

fn options() -> DemoOptions {
    DemoOptions {
        polling: false,
        ..Default::default()
    }
}

/// Waits until webhooks are delivered and inbox and outbox stay empty.
async fn quiet(env: &DemoEnv, engine: &Engine) {
    for _ in 0..2 {
        env.autotask.wait_webhooks_idle().await;
        env.connectwise.wait_callbacks_idle().await;
        wait_for("inbox and outbox to drain", STEP, || {
            (engine.store.inbox().ok()?.is_empty() && engine.store.outbox().ok()?.is_empty())
                .then_some(())
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The daemon started and the story's ticket escalated, everything quiet.
async fn escalated(env: &DemoEnv) -> (Daemon, Arc<Engine>, Story<'_>) {
    let daemon = start(env).await;
    let engine = daemon.engine.clone();
    let mut story = Story::new(env, STEP, false);
    story.escalate().await.unwrap();
    quiet(env, &engine).await;
    (daemon, engine, story)
}

async fn outbox_cli(env: &DemoEnv, what: &str) -> String {
    let config = env.config_path.to_str().unwrap();
    text(&cli(&["outbox", what, "--config", config]).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_blocks_its_ticket_and_retry_replans_from_current_state() {
    let (_dir, env) = env(options()).await;
    let daemon = start(&env).await;
    let engine = daemon.engine.clone();
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let (t1, cw1) = (story.autotask_id(), story.connectwise_id());
    let other = env.autotask.user_create_ticket(
        "Printer offline",
        "The 3rd floor printer is offline.",
        "Level I Support",
        "Medium",
    );
    env.autotask.user_set_queue(other.id, "Escalate to MSP");
    wait_for("the second escalation", STEP, || {
        (env.connectwise.tickets().len() == 2).then_some(())
    })
    .await
    .unwrap();
    quiet(&env, &engine).await;
    let cw2 = env
        .connectwise
        .tickets()
        .into_iter()
        .find(|t| t.id != cw1)
        .unwrap()
        .id;
    assert_eq!(env.connectwise.ticket(cw1).unwrap().priority, P2);

    // The priority update for ticket 1 is refused for good.
    env.connectwise.control().fail_next_writes(&[400]);
    env.autotask.user_set_priority(t1, "Medium");
    let dead = wait_for("the dead letter", STEP, || {
        engine
            .store
            .outbox()
            .ok()?
            .into_iter()
            .find(|op| op.dead.is_some())
    })
    .await
    .unwrap();
    // A later change of ticket 1 waits behind it; ticket 2 is not held back.
    let description = env.autotask.ticket(t1).unwrap().description;
    env.autotask
        .user_set_text(t1, "VPN down at two branches", &description);
    env.autotask.user_set_priority(other.id, "Critical");
    wait_for("ticket 2's update", STEP, || {
        (env.connectwise.ticket(cw2)?.priority == "Priority 1 - Emergency Response").then_some(())
    })
    .await
    .unwrap();
    let rows = wait_for("ticket 1's title update to queue behind", STEP, || {
        let rows = psa_bridge::report::outbox_rows(&engine).ok()?;
        rows.iter()
            .any(|r| r.blocked_by == Some(dead.id))
            .then_some(rows)
    })
    .await
    .unwrap();
    env.autotask.wait_webhooks_idle().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cw_ticket = env.connectwise.ticket(cw1).unwrap();
    assert_eq!(cw_ticket.priority, P2, "nothing overtook the dead letter");
    assert_eq!(
        cw_ticket.summary,
        format!("VPN down at branch office [{}]", story.internal_number),
        "nothing overtook the dead letter: {rows:#?}"
    );
    let listing = outbox_cli(&env, "list").await;
    assert!(
        listing.contains(&format!("WAITING behind dead letter {}", dead.id)),
        "{listing}"
    );
    let dead_listing = outbox_cli(&env, "dead").await;
    assert!(
        dead_listing.contains("DEAD (400)") && dead_listing.contains("wait behind it"),
        "{dead_listing}"
    );

    // Meanwhile the Autotask priority moves on, unannounced (no webhook, no
    // polling, and no ConnectWise callback for the echo of what is written):
    // replaying the dead payload would leave the stale Medium there.
    env.autotask.set_webhooks_enabled(false);
    env.connectwise.set_callbacks_enabled(false);
    env.autotask.user_set_priority(t1, "Low");
    let patches = || {
        env.connectwise
            .control()
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with(&format!("/service/tickets/{cw1}")))
            .count()
    };
    let patches_before = patches();
    let config = env.config_path.to_str().unwrap();
    let retried = cli(&["outbox", "retry", &dead.id.to_string(), "--config", config]).await;
    assert!(retried.status.success(), "{}", text(&retried));
    assert!(
        text(&retried).contains("planned again"),
        "{}",
        text(&retried)
    );
    wait_for("the current priority and the waiting title", STEP, || {
        let t = env.connectwise.ticket(cw1)?;
        (t.priority == P4 && t.summary == "VPN down at two branches").then_some(())
    })
    .await
    .unwrap();
    quiet(&env, &engine).await;
    assert_eq!(env.connectwise.ticket(cw1).unwrap().priority, P4);
    assert_eq!(
        patches() - patches_before,
        2,
        "the waiting title and the current priority; never the stale one"
    );
    assert_eq!(
        env.autotask.ticket(t1).unwrap().priority,
        "Low",
        "no bounce"
    );
    assert!(engine.store.replans().unwrap().is_empty());
    daemon.shutdown().await;
}

/// A notice whose planning fails for good (here a 403 reading the ticket)
/// used to be dropped after the cursor moved on; it is kept, listed, and
/// planned again after `outbox retry`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_that_fails_for_good_is_kept_and_retryable() {
    let (_dir, env) = env(options()).await;
    let (daemon, engine, story) = escalated(&env).await;

    env.autotask.control().fail_next_reads(&[403]);
    env.autotask.user_set_priority(story.autotask_id(), "Low");
    let dead = wait_for("the dead notice", STEP, || {
        engine.store.dead_notices().ok()?.into_iter().next()
    })
    .await
    .unwrap();
    assert_eq!(dead.dead.status, Some(403));
    assert_eq!(dead.item.ticket_id, story.autotask_id().to_string());
    assert!(engine.store.inbox().unwrap().is_empty());
    let listing = outbox_cli(&env, "dead").await;
    assert!(
        listing.contains(&format!("{} ", dead.item.id)) && listing.contains("DEAD NOTICE (403)"),
        "{listing}"
    );
    assert_eq!(
        env.connectwise
            .ticket(story.connectwise_id())
            .unwrap()
            .priority,
        P2
    );

    // After the cause is fixed (the fault was one-off), retry plans it.
    let config = env.config_path.to_str().unwrap();
    let retried = cli(&[
        "outbox",
        "retry",
        &dead.item.id.to_string(),
        "--config",
        config,
    ])
    .await;
    assert!(retried.status.success(), "{}", text(&retried));
    wait_for("the retried notice's update", STEP, || {
        (env.connectwise.ticket(story.connectwise_id())?.priority == P4).then_some(())
    })
    .await
    .unwrap();
    quiet(&env, &engine).await;
    assert!(engine.store.dead_notices().unwrap().is_empty());
    daemon.shutdown().await;
}

/// The linked ConnectWise ticket is deleted: ConnectWise's `deleted` callback
/// is planned, the ticket's read answers 404 and the link is removed
/// (audited, index and shadow removed) instead of failing every later notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_far_ticket_unlinks() {
    let (_dir, env) = env(options()).await;
    let (daemon, engine, story) = escalated(&env).await;
    let link = engine.store.links().unwrap().pop().unwrap();

    env.connectwise.user_delete_ticket(story.connectwise_id());
    // Out of the escalation queue, so it is not escalated again.
    env.autotask
        .user_set_queue(story.autotask_id(), "Level I Support");
    wait_for("the link to go", STEP, || {
        engine.store.links().ok()?.is_empty().then_some(())
    })
    .await
    .unwrap();
    quiet(&env, &engine).await;
    let at_id = story.autotask_id().to_string();
    assert!(engine
        .store
        .link_for("acme", psa_bridge::store::Side::A, &at_id)
        .unwrap()
        .is_none());
    assert!(engine
        .store
        .link_for(
            "acme",
            psa_bridge::store::Side::B,
            &story.connectwise_id().to_string()
        )
        .unwrap()
        .is_none());
    assert_eq!(engine.store.shadow(link.id).unwrap(), Default::default());
    assert!(engine.store.dead_notices().unwrap().is_empty());
    let audit = engine.store.audit_entries().unwrap();
    assert_eq!(
        audit.iter().filter(|e| e.kind == "unlinked").count(),
        1,
        "{audit:#?}"
    );
    assert!(env.connectwise.tickets().is_empty(), "not escalated again");

    // Later changes of the Autotask ticket are quietly not synced.
    env.autotask.user_set_priority(story.autotask_id(), "Low");
    quiet(&env, &engine).await;
    assert!(engine.store.dead_notices().unwrap().is_empty());
    assert!(env.connectwise.tickets().is_empty());
    daemon.shutdown().await;
}

/// The linked ConnectWise ticket is deleted and ConnectWise says nothing (no
/// callback): the next Autotask change is planned from what the bridge
/// knows of the far ticket, so its delivery is the first to meet the 404.
/// The link is removed as planning would (a read confirms the ticket is
/// gone), not kept as a dead letter that blocks the ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_ticket_deleted_unannounced_unlinks_at_delivery() {
    let (_dir, env) = env(options()).await;
    let (daemon, engine, story) = escalated(&env).await;
    let (at, cw) = (story.autotask_id(), story.connectwise_id());
    let link = engine.store.links().unwrap().pop().unwrap();
    // Crossing changes until a plan has read everything this session, so
    // the next plan takes the far ticket from the store.
    for priority in ["Medium", "High", "Medium", "High"] {
        let known = engine.store.known(link.id).unwrap();
        if known.is_some_and(|k| k.session == Some(engine.store.session())) {
            break;
        }
        env.autotask.user_set_priority(at, priority);
        quiet(&env, &engine).await;
    }
    let known = engine.store.known(link.id).unwrap();
    assert!(
        known.is_some_and(|k| k.session == Some(engine.store.session())),
        "the link's knowledge never became complete"
    );

    env.connectwise.set_callbacks_enabled(false);
    env.connectwise.user_delete_ticket(cw);
    env.autotask.user_set_queue(at, "Level I Support");
    env.autotask.user_set_priority(at, "Low");
    wait_for("the link to go", STEP, || {
        engine.store.links().ok()?.is_empty().then_some(())
    })
    .await
    .unwrap();
    quiet(&env, &engine).await;

    let refused: Vec<_> = env
        .connectwise
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.status == 404)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        refused.first().is_some_and(|r| r.starts_with("PATCH ")),
        "the delivery met the deletion first, then a read confirmed it: {refused:?}"
    );
    assert!(refused.iter().any(|r| r.starts_with("GET ")), "{refused:?}");
    assert!(engine.store.dead_notices().unwrap().is_empty());
    assert!(
        engine.store.outbox().unwrap().is_empty(),
        "no dead letter left"
    );
    assert_eq!(engine.store.shadow(link.id).unwrap(), Default::default());
    let audit = engine.store.audit_entries().unwrap();
    assert_eq!(
        audit.iter().filter(|e| e.kind == "unlinked").count(),
        1,
        "{audit:#?}"
    );
    assert!(env.connectwise.tickets().is_empty(), "not escalated again");
    daemon.shutdown().await;
}
