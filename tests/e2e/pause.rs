//! Pausing one pairing of two that share a connection (Autotask →
//! ConnectWise "acme" and ServiceNow → ConnectWise "initech"): while
//! "initech" is paused its changes (an escalation, notes both ways, a
//! status) are planned into the outbox, which `outbox list` shows naming
//! the pairing, and ServiceNow gets no write and ConnectWise nothing of
//! initech, while acme's changes arrive on the same ConnectWise. Paused it
//! stays across a restart; resumed through the CLI, everything arrives
//! exactly once and in order. The API refuses unknown pairings (naming the
//! configured ones), malformed bodies, a second pause and requests without
//! the token.

use std::time::Duration;

use psa_bridge::demo::{pairing, wait_for, DemoEnv, DemoOptions, System};
use serde_json::{json, Value};

use crate::api_steps::{get_ok, post};
use crate::common::{cli, env, progress, settled_by, text, Bridge, STEP};
use crate::scrape::scrape;
use crate::workload::all_writes;

/// Generous: a paused pairing's changes are planned within a poll or two.
const WAIT: Duration = Duration::from_secs(60);

async fn spawn(env: &DemoEnv) -> Bridge {
    let bridge = Bridge::spawn(&env.config_path).await;
    env.connect_servicenow_notifications(bridge.addr);
    bridge
}

/// `text` without its ANSI colour codes.
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn count(haystack: &[String], needle: &str) -> usize {
    haystack.iter().filter(|t| t.contains(needle)).count()
}

fn note_texts(env: &DemoEnv, system: System, id: &str) -> Vec<String> {
    env.desk(system)
        .notes(id)
        .into_iter()
        .map(|n| n.text)
        .collect()
}

/// The ConnectWise ticket whose summary carries `number`, if there is one.
fn cw_ticket_for(env: &DemoEnv, number: &str) -> Vec<String> {
    env.connectwise
        .tickets()
        .into_iter()
        .filter(|t| t.summary.contains(number))
        .map(|t| t.id.to_string())
        .collect()
}

/// Opens a ticket on `system`, escalates it, returns (id, number).
fn escalate(env: &DemoEnv, system: System, title: &str, priority: &str) -> (String, String) {
    let desk = env.desk(system);
    let ticket = desk.open(title, "Something is broken.", priority);
    desk.escalate(&ticket.id);
    (ticket.id, ticket.number)
}

async fn wait_cw_ticket(env: &DemoEnv, number: &str) -> String {
    wait_for("the ConnectWise ticket", WAIT, || {
        cw_ticket_for(env, number).into_iter().next()
    })
    .await
    .unwrap()
}

/// The outbox operations of `pairing` the API lists.
async fn ops_of(bridge: &Bridge, pairing: &str) -> Vec<Value> {
    let page = get_ok(bridge, "/api/v1/outbox?limit=500").await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|op| op["pairing"] == pairing)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_pairing_keeps_its_changes_and_delivers_them_once_resumed() {
    let options = DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    };
    let (_dir, env) = env(options.clone()).await;
    let acme = pairing(System::Autotask, System::Connectwise).unwrap();
    let initech = pairing(System::Servicenow, System::Connectwise).unwrap();
    env.write_config_for(&[("acme", acme), ("initech", initech)], &options)
        .unwrap();
    let config = env.config_path.to_str().unwrap().to_string();
    let sn = initech.script;
    let mut bridge = spawn(&env).await;

    // Linked before the pause.
    let (inc1, inc1_number) = escalate(&env, System::Servicenow, "Mail down", sn.internal_high);
    let cw1 = wait_cw_ticket(&env, &inc1_number).await;
    settled_by(&env, &bridge, || all_writes(&env)).await;

    let paused = cli(&[
        "pairings",
        "pause",
        "initech",
        "--reason",
        "client migrating",
        "--config",
        &config,
    ])
    .await;
    assert!(paused.status.success(), "{}", text(&paused));
    assert!(text(&paused).contains("paused"), "{}", text(&paused));

    // The API: unknown pairing, bad bodies, a second pause, no token.
    let (code, body) = post(&bridge, "/api/v1/pairings/nope/pause", &json!({})).await;
    assert_eq!(code, 404, "{body}");
    let said = body["error"].as_str().unwrap();
    assert!(said.contains("acme") && said.contains("initech"), "{said}");
    let (code, body) = post(
        &bridge,
        "/api/v1/pairings/initech/pause",
        &json!({ "reason": 5 }),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = post(
        &bridge,
        "/api/v1/pairings/initech/resume",
        &json!({ "why": "x" }),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = post(
        &bridge,
        "/api/v1/pairings/acme/pause",
        &json!({ "reason": "x".repeat(501) }),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let garbled = bridge
        .admin_client()
        .post(bridge.admin_url("/api/v1/pairings/initech/pause"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status().as_u16(), 400);
    let (code, body) = post(&bridge, "/api/v1/pairings/initech/pause", &json!({})).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("client migrating"));
    for step in ["pause", "resume"] {
        let anonymous = reqwest::Client::new()
            .post(bridge.admin_url(&format!("/api/v1/pairings/initech/{step}")))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status().as_u16(), 401, "{step}");
    }
    let unknown = cli(&["pairings", "resume", "nope", "--config", &config]).await;
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(text(&unknown).contains("initech"), "{}", text(&unknown));

    // Changes on both pairings while initech is paused.
    let sn_writes = env.desk(System::Servicenow).bridge_writes();
    let cw1_notes = note_texts(&env, System::Connectwise, &cw1);
    let sn_desk = env.desk(System::Servicenow);
    let cw_desk = env.desk(System::Connectwise);
    let (inc2, inc2_number) = escalate(&env, System::Servicenow, "VPN down", sn.internal_high);
    sn_desk.add_note(&inc1, "Client note one", true, "Alice");
    sn_desk.add_note(&inc1, "Client note two", true, "Alice");
    cw_desk.set_status(&cw1, sn.msp_in_progress);
    cw_desk.add_note(&cw1, "Tech reply to initech", true, "Tom");
    let (at, at_number) = escalate(
        &env,
        System::Autotask,
        "Printer down",
        acme.script.internal_high,
    );
    let cw_at = wait_cw_ticket(&env, &at_number).await;
    env.desk(System::Autotask)
        .add_note(&at, "Acme note", true, "Bob");
    wait_for("acme's note on ConnectWise", WAIT, || {
        (count(&note_texts(&env, System::Connectwise, &cw_at), "Acme note") == 1).then_some(())
    })
    .await
    .unwrap();

    // Initech's changes wait in the outbox: the create, both notes to
    // ConnectWise, the status and the reply to ServiceNow.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ops = ops_of(&bridge, "initech").await;
        let acme_done = ops_of(&bridge, "acme").await.is_empty();
        let of = |connection: &str, kind: &str| {
            ops.iter()
                .filter(|op| op["connection"] == connection && op["kind"] == kind)
                .count()
        };
        if acme_done
            && of("connectwise", "create_ticket") == 1
            && of("connectwise", "add_comment") >= 2
            && of("servicenow", "update_ticket") >= 1
            && of("servicenow", "add_comment") >= 1
        {
            assert!(ops.iter().all(|op| op["attempts"] == 0), "{ops:#?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "initech's changes never all reached the outbox: {ops:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listing = cli(&["outbox", "list", "--config", &config]).await;
    let listing = text(&listing);
    assert!(
        listing
            .lines()
            .any(|l| l.contains("initech") && l.contains("HELD")),
        "{listing}"
    );
    assert!(
        !listing.contains("acme"),
        "acme's changes went out: {listing}"
    );
    let status = get_ok(&bridge, "/api/v1/pairings").await;
    let initech_status = status
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "initech")
        .unwrap();
    assert_eq!(initech_status["paused"], true, "{status}");
    assert_eq!(initech_status["paused_reason"], "client migrating");
    let metrics = scrape(&bridge).await;
    assert_eq!(
        metrics.sum("psa_bridge_pairing_paused", &[("pairing", "initech")]),
        1.0
    );
    assert_eq!(
        metrics.sum("psa_bridge_pairing_paused", &[("pairing", "acme")]),
        0.0
    );
    assert!(
        metrics.sum(
            "psa_bridge_pairing_outbox_pending",
            &[("pairing", "initech")]
        ) >= 5.0
    );
    let nothing_of_initech = |env: &DemoEnv| {
        assert_eq!(
            env.desk(System::Servicenow).bridge_writes(),
            sn_writes,
            "ServiceNow was written while initech was paused"
        );
        assert!(
            cw_ticket_for(env, &inc2_number).is_empty(),
            "escalated while paused"
        );
        let mut notes = note_texts(env, System::Connectwise, &cw1);
        notes.retain(|t| !t.contains("Tech reply to initech"));
        assert_eq!(notes, cw1_notes, "a ServiceNow note crossed while paused");
    };
    nothing_of_initech(&env);

    // Still paused after a restart: polls go on, nothing of initech goes out.
    bridge.stop().await;
    bridge = spawn(&env).await;
    let listed = cli(&["pairings", "list", "--config", &config]).await;
    let listed = text(&listed);
    assert!(
        listed.lines().any(|l| l.starts_with("initech")
            && l.contains("PAUSED")
            && l.contains("client migrating")),
        "{listed}"
    );
    // And after a reload (SIGHUP: a new engine generation over the store).
    let hung_up = std::process::Command::new("kill")
        .args(["-HUP", &bridge.pid().to_string()])
        .status()
        .unwrap();
    assert!(hung_up.success());
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let health = get_ok(&bridge, "/healthz").await;
        if health["config"]["last_reload"].is_object() {
            assert_eq!(health["config"]["last_reload"]["ok"], true, "{health}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reload: {health}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let polls = |p: Option<crate::common::Progress>| p.and_then(|p| p.polls).unwrap_or(0);
    let start = polls(progress(&bridge).await);
    let deadline = tokio::time::Instant::now() + STEP;
    while polls(progress(&bridge).await) < start + 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no polls after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nothing_of_initech(&env);

    let resumed = cli(&["pairings", "resume", "initech", "--config", &config]).await;
    assert!(resumed.status.success(), "{}", text(&resumed));
    settled_by(&env, &bridge, || all_writes(&env)).await;

    // Everything arrived, once, in order.
    assert_eq!(cw_ticket_for(&env, &inc2_number).len(), 1);
    let cw1_after = note_texts(&env, System::Connectwise, &cw1);
    assert_eq!(count(&cw1_after, "Client note one"), 1, "{cw1_after:#?}");
    assert_eq!(count(&cw1_after, "Client note two"), 1, "{cw1_after:#?}");
    let pos = |needle: &str| cw1_after.iter().position(|t| t.contains(needle)).unwrap();
    assert!(
        pos("Client note one") < pos("Client note two"),
        "{cw1_after:#?}"
    );
    let inc1_notes = note_texts(&env, System::Servicenow, &inc1);
    assert_eq!(
        count(&inc1_notes, "Tech reply to initech"),
        1,
        "{inc1_notes:#?}"
    );
    let incident = sn_desk.ticket(&inc1).unwrap();
    assert_eq!(incident.status, sn.internal_in_progress);
    assert!(sn_desk.ticket(&inc2).unwrap().far_number.is_some());

    // The planner's and the delivery workers' log lines name the pairing.
    let log = without_colours(&std::fs::read_to_string(&bridge.log).unwrap());
    for (what, needle) in [
        ("planned", "planned pairing=initech"),
        (
            "delivered",
            "deliver{connection=connectwise pairing=initech",
        ),
    ] {
        assert!(
            log.contains(needle),
            "no {what} line naming the pairing in {}",
            bridge.log.display()
        );
    }
    let outbox = text(&cli(&["outbox", "list", "--config", &config]).await);
    assert!(outbox.contains("outbox is empty"), "{outbox}");
    let audit = text(&cli(&["audit", "--limit", "500", "--config", &config]).await);
    for kind in ["pairing_paused", "pairing_resumed"] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(kind) && l.contains("initech")),
            "{audit}"
        );
    }
    assert!(audit.contains("client migrating"), "{audit}");
    bridge.stop().await;

    // Paused with the daemon stopped (the CLI writes the store), then
    // removed from the configuration: `check`, `pairings list` and the
    // daemon's pairings view say so; resuming clears it.
    let paused = cli(&["pairings", "pause", "initech", "--config", &config]).await;
    assert!(paused.status.success(), "{}", text(&paused));
    env.write_config_for(&[("acme", acme)], &options).unwrap();
    let checked = cli(&["check", "--offline", "--config", &config]).await;
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(
        text(&checked).contains("pairing initech is paused in the store but no longer configured"),
        "{}",
        text(&checked)
    );
    let bridge = spawn(&env).await;
    let pairings = get_ok(&bridge, "/api/v1/pairings").await;
    let gone = pairings
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "initech")
        .unwrap_or_else(|| panic!("{pairings}"));
    assert_eq!(gone["configured"], false);
    assert_eq!(gone["paused"], true);
    let listed = text(&cli(&["pairings", "list", "--config", &config]).await);
    assert!(listed.contains("no longer configured"), "{listed}");
    let cleared = cli(&["pairings", "resume", "initech", "--config", &config]).await;
    assert!(cleared.status.success(), "{}", text(&cleared));
    let pairings = get_ok(&bridge, "/api/v1/pairings").await;
    assert_eq!(pairings.as_array().unwrap().len(), 1, "{pairings}");
    bridge.stop().await;
}
