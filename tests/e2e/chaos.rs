//! Chaos: both simulators fail 15% of calls and answer slowly, while the
//! daemon is SIGKILLed at random instants and restarted. Tickets are
//! escalated and noted on both sides throughout. Afterwards every ticket has
//! exactly one far ticket, every public note crossed exactly once, no
//! internal note crossed, and the audit chain verifies.
//!
//! `PSA_CHAOS_SEED`, `PSA_CHAOS_TICKETS` and `PSA_CHAOS_KILLS` change the
//! run (defaults: a fixed seed, 40 tickets, 20 kills); the seed is printed so
//! a failure can be replayed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use psa_bridge::demo::{wait_for, DemoOptions};
use psa_connectwise::sim::SimNoteKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use psa_bridge::demo::{DemoEnv, AT_USER};
use psa_connectwise::sim::ConnectWiseSimOptions;

use crate::common::{env, Bridge};
use crate::steps::{audit_verifies, kill_at_random, msp_ticket};

/// Every webhook registration the restarts left behind is complete: with the
/// faults off, registering again writes nothing but each Autotask webhook's
/// secret.
async fn assert_registrations_complete(env: &DemoEnv, port: u16) {
    for control in [env.autotask.control(), env.connectwise.control()] {
        control.set_error_rate(0.0);
        control.set_ambiguous_rate(0.0);
    }
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let connections = psa_bridge::connections::build_all(&loaded.config.connections).unwrap();
    let cw_user = ConnectWiseSimOptions::default().public_key;
    let hook_writes = || {
        let at = env
            .autotask
            .control()
            .writes_by(AT_USER)
            .iter()
            .filter(|r| r.path.contains("Webhooks"))
            // The webhook's own PATCH sets its SecretKey again on every run
            // (Autotask never shows it); counted apart below.
            .filter(|r| !(r.method == "PATCH" && r.path.ends_with("Webhooks")))
            .count();
        let cw = env
            .connectwise
            .control()
            .writes_by(&cw_user)
            .iter()
            .filter(|r| r.path.contains("/system/callbacks"))
            .count();
        (at, cw)
    };
    let before = hook_writes();
    assert!(
        before.0 > 0 && before.1 > 0,
        "nothing was registered: {before:?}"
    );
    let secret_writes = || {
        env.autotask
            .control()
            .writes_by(AT_USER)
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with("Webhooks"))
            .count()
    };
    let secrets_before = secret_writes();
    let mut autotask_connections = 0;
    for (name, connection) in &connections {
        let url = format!("http://127.0.0.1:{port}/webhooks/{name}");
        connection.connector.register_webhook(&url).await.unwrap();
        autotask_connections += usize::from(connection.connector.vendor() == "autotask");
    }
    assert_eq!(hook_writes(), before, "a registration was left incomplete");
    assert_eq!(
        secret_writes() - secrets_before,
        2 * autotask_connections,
        "only the secret of each Autotask webhook (ticket, note) is set again"
    );
}

/// Once the faults stop and the last daemon has finished registering (it
/// waits behind the drain for the vendor's rate budget and backs off after
/// failures), a note made on each side arrives as a webhook the daemon
/// accepts, and crosses. Whether any webhook was accepted
/// during the kills depends on timing; this part does not.
async fn webhooks_carry_a_late_change(
    env: &DemoEnv,
    bridge: &Bridge,
    links: &BTreeMap<usize, (i64, i64)>,
) {
    // The faults stop here: registration is a dozen vendor calls, and at 15%
    // failures per call an attempt can fail many times in a row while its
    // backoff grows to five minutes. Once the vendor is healthy the next
    // attempt must complete it.
    for control in [env.autotask.control(), env.connectwise.control()] {
        control.set_error_rate(0.0);
        control.set_ambiguous_rate(0.0);
    }
    let deadline = Instant::now() + REGISTRATION_CEILING;
    loop {
        let (_, health) = bridge.health().await;
        let registered = |name: &str| health["webhooks"][name]["state"] == "registered";
        if registered("autotask") && registered("connectwise") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "webhook registration never finished: {health}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let accepted = |answers: Vec<u16>| answers.iter().filter(|s| **s == 200).count();
    let at_before = accepted(env.autotask.control().webhook_answers());
    let cw_before = accepted(env.connectwise.control().webhook_answers());
    let &(at_id, cw_id) = links.values().next().unwrap();
    env.autotask
        .user_add_note(at_id, "at-late please confirm", false, "Tina");
    env.connectwise.user_add_note(
        cw_id,
        "cw-late confirmed",
        SimNoteKind::Discussion,
        "jsmith",
    );
    wait_for("both late notes to cross", CONVERGE, || {
        let on_cw = env
            .connectwise
            .notes(cw_id)
            .iter()
            .filter(|n| n.text.contains("at-late "))
            .count();
        let on_at = env
            .autotask
            .notes(at_id)
            .iter()
            .filter(|n| n.text.contains("cw-late "))
            .count();
        (on_cw == 1 && on_at == 1).then_some(())
    })
    .await
    .unwrap();
    wait_for("both late webhooks to be accepted", CONVERGE, || {
        (accepted(env.autotask.control().webhook_answers()) > at_before
            && accepted(env.connectwise.control().webhook_answers()) > cw_before)
            .then_some(())
    })
    .await
    .unwrap();
}

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Generous: every step converges through retries and restarts.
const CONVERGE: Duration = Duration::from_secs(240);
/// Registration backs off up to five minutes between failed attempts.
const REGISTRATION_CEILING: Duration = Duration::from_secs(660);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_kills_and_vendor_errors_lose_and_duplicate_nothing() {
    let seed = knob("PSA_CHAOS_SEED", 20261126);
    let tickets = knob("PSA_CHAOS_TICKETS", 40) as usize;
    let kills = knob("PSA_CHAOS_KILLS", 20) as usize;
    eprintln!("chaos: seed {seed}, {tickets} tickets, {kills} kills");
    let mut rng = StdRng::seed_from_u64(seed);

    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    // One fixed webhook port across restarts, so registrations stay valid.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = std::fs::read_to_string(&env.config_path).unwrap().replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
        1,
    );
    std::fs::write(&env.config_path, config).unwrap();
    for control in [env.autotask.control(), env.connectwise.control()] {
        control.set_error_rate(0.15);
        control.set_latency(Duration::from_millis(20));
        // Writes applied but answered 503 or with a dropped connection.
        control.set_ambiguous_rate(0.05);
    }

    // The killer: SIGKILL at random instants, restart at once.
    let killer = kill_at_random(&mut rng, kills, &env.config_path);

    // The workload: escalations, then notes on both sides of each link.
    let mut at_ids = Vec::new();
    for i in 0..tickets {
        let t = env.autotask.user_create_ticket(
            &format!("Chaos ticket {i}"),
            &format!("Description of chaos ticket {i}."),
            "Level I Support",
            "Medium",
        );
        env.autotask.user_set_queue(t.id, "Escalate to MSP");
        at_ids.push(t.id);
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..80))).await;
    }
    let mut links = BTreeMap::new();
    for (i, &at_id) in at_ids.iter().enumerate() {
        let cw_id: i64 = wait_for("an escalation", CONVERGE, || msp_ticket(&env, at_id))
            .await
            .unwrap();
        links.insert(i, (at_id, cw_id));
        env.autotask
            .user_add_note(at_id, &format!("at-pub-{i} please check"), false, "Tina");
        env.autotask
            .user_add_note(at_id, &format!("at-int-{i} internal only"), true, "Tina");
        env.connectwise.user_add_note(
            cw_id,
            &format!("cw-pub-{i} on it"),
            SimNoteKind::Discussion,
            "jsmith",
        );
        env.connectwise.user_add_note(
            cw_id,
            &format!("cw-int-{i} firmware notes"),
            SimNoteKind::Internal,
            "jsmith",
        );
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..80))).await;
    }
    let bridge = killer.await.unwrap();
    let started = Instant::now();

    // Convergence: every public note crossed once, nothing internal crossed.
    let converged = || {
        links.iter().all(|(i, &(at_id, cw_id))| {
            let at_notes = env.autotask.notes(at_id);
            let cw_notes = env.connectwise.notes(cw_id);
            at_notes
                .iter()
                .any(|n| n.text.contains(&format!("cw-pub-{i} ")))
                && cw_notes
                    .iter()
                    .any(|n| n.text.contains(&format!("at-pub-{i} ")))
        })
    };
    wait_for("every note to cross", CONVERGE, || {
        converged().then_some(())
    })
    .await
    .unwrap();
    crate::common::settled(&env, &bridge).await;
    let converge_secs = started.elapsed().as_secs_f64();
    webhooks_carry_a_late_change(&env, &bridge, &links).await;

    assert_eq!(
        env.connectwise.tickets().len(),
        tickets,
        "exactly one ConnectWise ticket per escalation"
    );
    for (i, &(at_id, cw_id)) in &links {
        let at_notes = env.autotask.notes(at_id);
        let cw_notes = env.connectwise.notes(cw_id);
        let count =
            |notes: &[String], needle: &str| notes.iter().filter(|n| n.contains(needle)).count();
        let at_texts: Vec<String> = at_notes.iter().map(|n| n.text.clone()).collect();
        let cw_texts: Vec<String> = cw_notes.iter().map(|n| n.text.clone()).collect();
        assert_eq!(count(&at_texts, &format!("cw-pub-{i} ")), 1, "{at_texts:?}");
        assert_eq!(count(&cw_texts, &format!("at-pub-{i} ")), 1, "{cw_texts:?}");
        assert_eq!(
            count(&at_texts, &format!("cw-int-{i} ")),
            0,
            "internal leaked"
        );
        assert_eq!(
            count(&cw_texts, &format!("at-int-{i} ")),
            0,
            "internal leaked"
        );
        assert_eq!(count(&at_texts, "Escalated to the MSP"), 1, "{at_texts:?}");
        // Mirrors arrive customer-visible, never anything else.
        assert!(at_notes
            .iter()
            .filter(|n| n.text.contains(&format!("cw-pub-{i} ")))
            .all(|n| !n.internal));
        assert!(cw_notes
            .iter()
            .filter(|n| n.text.contains(&format!("at-pub-{i} ")))
            .all(|n| n.discussion && !n.internal));
        let cw = env.connectwise.ticket(cw_id).unwrap();
        assert!(
            cw.summary.starts_with(&format!("Chaos ticket {i} ")),
            "{}",
            cw.summary
        );
    }
    bridge.stop().await;
    audit_verifies(&env).await;

    // No webhook was refused as malformed or unsigned (0: the daemon was down).
    for (vendor, answers) in [
        ("autotask", env.autotask.control().webhook_answers()),
        ("connectwise", env.connectwise.control().webhook_answers()),
    ] {
        let refused: Vec<&u16> = answers.iter().filter(|s| (400..500).contains(*s)).collect();
        assert!(refused.is_empty(), "{vendor} webhooks refused: {refused:?}");
        assert!(answers.contains(&200), "{vendor}: no webhook was accepted");
    }
    assert_registrations_complete(&env, port).await;
    eprintln!(
        "chaos: seed {seed}: {tickets} tickets, {} notes, {kills} kills; converged {converge_secs:.1} s after the last restart",
        tickets * 4
    );
}
