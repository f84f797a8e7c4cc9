//! ServiceNow's rules through the real daemon: a resolve the instance
//! refuses for a missing `close_code` dead-letters naming the field and
//! lands once the mapping is fixed and the operation retried; ConnectWise
//! "Priority 2" arrives as the impact/urgency pair the instance computes
//! back to priority 2; a long comment with newlines and non-Latin text
//! crosses both ways byte for byte; a notification with a stale timestamp
//! or a wrong signature is refused with 401 and nothing is stored.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{
    wait_for, DemoEnv, DemoOptions, System, SERVICENOW_MAPPING, SN_WEBHOOK_SECRET,
};
use psa_connectwise::sim::SimNoteKind;
use serde_json::Value;

use crate::common::{cli, env, settled, text, Bridge, STEP};

const CLOSE_CODE: &str = "close_code = \"Solved Remotely (Permanently)\", ";

async fn spawn(env: &DemoEnv) -> Bridge {
    let bridge = Bridge::spawn(&env.config_path).await;
    env.connect_servicenow_notifications(bridge.addr);
    bridge
}

async fn servicenow_env(mapping: Option<String>) -> (crate::common::TestDir, DemoEnv) {
    env(DemoOptions {
        internal: System::Servicenow,
        poll_interval_secs: 1,
        mapping,
        ..Default::default()
    })
    .await
}

async fn outbox(bridge: &Bridge) -> Vec<Value> {
    let body = bridge.admin_get("/api/v1/outbox").await;
    let page: Value = serde_json::from_str(&body).unwrap();
    page["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_without_close_code_dead_letters_and_lands_after_the_fix() {
    let broken = SERVICENOW_MAPPING.replace(CLOSE_CODE, "");
    assert_ne!(
        broken, SERVICENOW_MAPPING,
        "the mapping names the close code"
    );
    let (_dir, env) = servicenow_env(Some(broken)).await;
    let bridge = spawn(&env).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    story.msp_picks_up().await.unwrap();

    let cw = story.connectwise_id();
    env.connectwise.user_add_note(
        cw,
        "Replaced the expired VPN certificate; tunnel is up.",
        SimNoteKind::Resolution,
        "jsmith",
    );
    env.connectwise.user_set_status(cw, ">Closed");
    let mut dead = Value::Null;
    for _ in 0..600 {
        if let Some(op) = outbox(&bridge)
            .await
            .into_iter()
            .find(|op| op["state"] == "dead")
        {
            dead = op;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!dead.is_null(), "the resolve became a dead letter");
    let reason = dead["last_error"].to_string();
    assert!(reason.contains("close_code"), "names the field: {reason}");
    let listing = text(
        &cli(&[
            "outbox",
            "dead",
            "--config",
            env.config_path.to_str().unwrap(),
        ])
        .await,
    );
    assert!(listing.contains("close_code"), "{listing}");
    let incident = env.servicenow.incident(&story.internal_id).unwrap();
    assert_eq!(incident.state, "In Progress", "nothing half-written");

    // The operator fixes the mapping, restarts, and retries the dead letter.
    bridge.stop().await;
    std::fs::write(env.dir.join("mapping.toml"), SERVICENOW_MAPPING).unwrap();
    let bridge = spawn(&env).await;
    let id = dead["id"].as_str().unwrap().to_string();
    let retried = cli(&[
        "outbox",
        "retry",
        &id,
        "--config",
        env.config_path.to_str().unwrap(),
    ])
    .await;
    assert!(retried.status.success(), "{}", text(&retried));
    let incident = wait_for("the incident to resolve", STEP, || {
        env.servicenow
            .incident(&story.internal_id)
            .filter(|i| i.state == "Resolved")
    })
    .await
    .unwrap();
    assert_eq!(incident.close_code, "Solved Remotely (Permanently)");
    assert_eq!(
        incident.close_notes,
        "Replaced the expired VPN certificate; tunnel is up."
    );
    settled(&env, &bridge).await;
    assert!(env.connectwise.ticket(cw).unwrap().closed, "no bounce");
    assert!(
        outbox(&bridge).await.is_empty(),
        "nothing left in the outbox"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectwise_priority_2_arrives_as_impact_and_urgency() {
    let (_dir, env) = servicenow_env(None).await;
    let bridge = spawn(&env).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    story.tech_replies().await.unwrap();
    let critical = env.servicenow.incident(&story.internal_id).unwrap();
    assert_eq!(critical.priority, "1 - Critical");

    // The MSP lowers the priority; priority belongs to the internal side,
    // but an MSP change with no competing internal change still flows.
    env.connectwise
        .user_set_priority(story.connectwise_id(), "Priority 2 - Quick Response");
    let incident = wait_for("priority 2 on the incident", STEP, || {
        env.servicenow
            .incident(&story.internal_id)
            .filter(|i| i.priority == "2 - High")
    })
    .await
    .unwrap();
    assert_eq!(
        (incident.impact.as_str(), incident.urgency.as_str()),
        ("1 - High", "2 - Medium"),
        "the pair the default matrix gives priority 2"
    );
    settled(&env, &bridge).await;
    assert_eq!(
        env.connectwise
            .ticket(story.connectwise_id())
            .unwrap()
            .priority,
        "Priority 2 - Quick Response",
        "no bounce"
    );
    bridge.stop().await;
}

/// 10,000 characters: lines, non-Latin scripts, emoji, tabs.
fn long_text(seed: &str) -> String {
    let line = format!("{seed} Привет, 世界! مرحبا — ünïcödé ✓ 🚀\ttab\n");
    let mut text = String::new();
    while text.chars().count() < 10_000 {
        text.push_str(&line);
    }
    text.chars()
        .take(10_000)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// What ConnectWise stores for a text: its API turns `\r`, `\n`, `\b` and
/// `\f` into spaces (docs/vendors: the vendor's guide), so line breaks cannot
/// survive a trip through it; every other character must.
fn as_connectwise_stores(text: &str) -> String {
    text.replace("\r\n", " ")
        .replace(['\r', '\n', '\u{8}', '\u{c}'], " ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_multilingual_comment_crosses_both_ways_byte_for_byte() {
    let (_dir, env) = servicenow_env(None).await;
    let bridge = spawn(&env).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let (sys_id, cw) = (story.internal_id.clone(), story.connectwise_id());

    let from_servicenow = long_text("from-sn");
    env.servicenow
        .user_add_comment(&sys_id, &from_servicenow, false);
    let from_connectwise = long_text("from-cw");
    env.connectwise
        .user_add_note(cw, &from_connectwise, SimNoteKind::Discussion, "jsmith");
    // What ConnectWise kept of its engineer's note is what must arrive.
    let cw_original = as_connectwise_stores(&from_connectwise);
    let sn_on_cw = as_connectwise_stores(&from_servicenow);
    wait_for("both comments to cross", STEP, || {
        let on_cw = env
            .connectwise
            .notes(cw)
            .iter()
            .any(|n| n.text.contains(&sn_on_cw));
        let on_sn = env
            .servicenow
            .journal(&sys_id)
            .iter()
            .any(|e| e.element == "comments" && e.value.contains(&cw_original));
        (on_cw && on_sn).then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    let cw_texts: Vec<String> = env
        .connectwise
        .notes(cw)
        .into_iter()
        .map(|n| n.text)
        .collect();
    let sn_texts: Vec<String> = env
        .servicenow
        .journal(&sys_id)
        .into_iter()
        .map(|e| e.value)
        .collect();
    let count =
        |texts: &[String], needle: &str| texts.iter().filter(|t| t.contains(needle)).count();
    // The engineer's note as stored, plus nothing else carrying it.
    assert_eq!(
        count(&cw_texts, &cw_original),
        1,
        "no echo back to ConnectWise"
    );
    assert_eq!(count(&cw_texts, &sn_on_cw), 1);
    // ServiceNow keeps the tech's comment exactly, and the mirror of the
    // engineer's note exactly as ConnectWise stored it.
    assert_eq!(
        count(&sn_texts, &from_servicenow),
        1,
        "no echo back to ServiceNow"
    );
    assert_eq!(count(&sn_texts, &cw_original), 1);
    let mirror = sn_texts.iter().find(|t| t.contains(&cw_original)).unwrap();
    assert!(
        mirror.chars().count() >= 10_000
            && mirror.contains("Привет, 世界! مرحبا")
            && mirror.contains("🚀\ttab"),
        "non-Latin text, emoji and tabs kept"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_or_forged_notifications_are_refused_and_nothing_is_stored() {
    let (_dir, env) = env(DemoOptions {
        internal: System::Servicenow,
        polling: false,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let incident = env
        .servicenow
        .user_create_incident("Printer offline", "3rd floor");
    env.servicenow
        .user_set_assignment_group(&incident.sys_id, "MSP Escalation")
        .unwrap();
    let url = bridge.url("/webhooks/servicenow");
    let client = reqwest::Client::new();
    let send = |headers: Vec<(String, String)>, body: Vec<u8>| {
        let mut request = client.post(&url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let now = chrono::Utc::now();
    let notice = |secret: &str, at| {
        env.servicenow
            .signed_notice("incident", &incident.sys_id, secret, at)
            .unwrap()
    };

    let (headers, body) = notice(SN_WEBHOOK_SECRET, now - chrono::Duration::minutes(10));
    assert_eq!(send(headers, body).await.unwrap().status(), 401, "stale");
    let (headers, body) = notice(SN_WEBHOOK_SECRET, now + chrono::Duration::minutes(10));
    assert_eq!(send(headers, body).await.unwrap().status(), 401, "future");
    let (headers, body) = notice("not-the-secret", now);
    assert_eq!(send(headers, body).await.unwrap().status(), 401, "forged");
    let (headers, mut body) = notice(SN_WEBHOOK_SECRET, now);
    body.push(b' ');
    assert_eq!(send(headers, body).await.unwrap().status(), 401, "altered");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        env.connectwise.tickets().is_empty(),
        "no refused notification reached the engine"
    );

    // The genuine one is taken (and escalates the incident).
    let (headers, body) = notice(SN_WEBHOOK_SECRET, now);
    assert_eq!(send(headers, body).await.unwrap().status(), 200);
    wait_for("the escalation", STEP, || {
        (env.connectwise.tickets().len() == 1).then_some(())
    })
    .await
    .unwrap();
    bridge.stop().await;
}
