//! The escalation story with ServiceNow as the internal side and ConnectWise
//! as the MSP, through the real daemon: with signed notifications and with
//! polling only (exact write counts, no echoes), and with SIGKILLs in the
//! middle of every step (no duplicate incident, ticket or journal entry).

use std::time::Duration;

use psa_bridge::demo::story::{Story, SERVICENOW_TO_CONNECTWISE};
use psa_bridge::demo::{DemoEnv, DemoOptions, System};

use crate::common::{env, play_with_kills, settled, Bridge, STEP};
use crate::steps::audit_verifies;

/// Starts the daemon and, with `notify`, points the instance's business
/// rule at it (what an instance admin does once; ServiceNow has no
/// registration API).
async fn spawn(env: &DemoEnv, notify: bool) -> Bridge {
    let bridge = Bridge::spawn(&env.config_path).await;
    if notify {
        env.connect_servicenow_notifications(bridge.addr);
    }
    bridge
}

fn journal_count(env: &DemoEnv, sys_id: &str, needle: &str) -> usize {
    env.servicenow
        .journal(sys_id)
        .iter()
        .filter(|e| e.value.contains(needle))
        .count()
}

/// The simulator's OAuth application (password grant as the integration user).
const OAUTH: &str = "auth = \"oauth_password\"\nclient_id = \"demo-client\"\nclient_secret = \"demo-client-secret\"\n";

/// One incident, one ConnectWise ticket, and each of the story's notes
/// exactly once on the side it crosses to.
fn assert_nothing_duplicated(env: &DemoEnv, story: &Story<'_>) {
    assert_eq!(env.servicenow.incidents().len(), 1, "no duplicate incident");
    assert_eq!(env.connectwise.tickets().len(), 1, "no duplicate ticket");
    for needle in [
        "VPN logs",
        "expired VPN certificate",
        "Escalated to the MSP",
    ] {
        assert_eq!(
            journal_count(env, &story.internal_id, needle),
            1,
            "{needle}"
        );
    }
    let cw_notes = env.connectwise.notes(story.connectwise_id());
    let replies = cw_notes.iter().filter(|n| n.text.contains("on site until"));
    assert_eq!(replies.count(), 1, "{cw_notes:?}");
}

/// Plays the story, checking the bridge's write counts after every step;
/// with `oauth` the connection signs in through `/oauth_token.do`.
async fn play_and_count(options: DemoOptions, oauth: bool) {
    let notifications = options.webhooks;
    let (_dir, env) = env(DemoOptions {
        internal: System::Servicenow,
        ..options
    })
    .await;
    if oauth {
        let config = std::fs::read_to_string(&env.config_path).unwrap();
        let config = config.replacen("username = ", &format!("{OAUTH}username = "), 1);
        std::fs::write(&env.config_path, config).unwrap();
    }
    let bridge = spawn(&env, notifications).await;
    let mut story = Story::new(&env, STEP, false);

    story.escalate().await.unwrap();
    // ConnectWise: the ticket. ServiceNow: the write-back work note and correlation_id.
    assert_eq!(settled(&env, &bridge).await, (2, 1), "after escalation");
    let incident = env.servicenow.incident(&story.internal_id).unwrap();
    let cw = env.connectwise.ticket(story.connectwise_id()).unwrap();
    assert_eq!(incident.correlation_id, cw.id.to_string());
    assert_eq!(cw.priority, "Priority 2 - Quick Response");
    assert_eq!(
        cw.summary,
        format!("VPN down at branch office [{}]", incident.number)
    );
    assert!(cw.initial_description.contains("Leeds branch"));
    let write_back = env
        .servicenow
        .journal(&story.internal_id)
        .into_iter()
        .find(|e| e.value.contains("Escalated to the MSP"))
        .unwrap();
    assert_eq!(
        write_back.element, "work_notes",
        "the write-back stays internal"
    );

    story.msp_picks_up().await.unwrap();
    // ServiceNow: state and the public comment; the internal note stays in ConnectWise.
    assert_eq!(
        settled(&env, &bridge).await,
        (4, 1),
        "after the MSP picked up"
    );
    assert_eq!(journal_count(&env, &story.internal_id, "firmware"), 0);

    story.tech_replies().await.unwrap();
    // ConnectWise: the reply and the priority (impact/urgency 1/1 computes to 1 - Critical).
    assert_eq!(
        settled(&env, &bridge).await,
        (4, 3),
        "after the tech replied"
    );

    story.msp_resolves().await.unwrap();
    // ServiceNow: the resolution comment, state Resolved with its close
    // code and notes, and the close-rule work note.
    assert_eq!(
        settled(&env, &bridge).await,
        SERVICENOW_TO_CONNECTWISE.expected_writes,
        "after resolution"
    );
    let incident = env.servicenow.incident(&story.internal_id).unwrap();
    assert_eq!(incident.state, "Resolved");
    assert_eq!(incident.priority, "1 - Critical");
    assert_eq!(incident.close_code, "Solved Remotely (Permanently)");
    assert_eq!(
        incident.close_notes,
        "Replaced the expired VPN certificate; tunnel is up."
    );
    assert_nothing_duplicated(&env, &story);
    let answers = env.servicenow.control().webhook_answers();
    if notifications {
        assert!(
            answers.contains(&200),
            "notifications were accepted: {answers:?}"
        );
        assert!(
            answers.iter().all(|s| *s == 200),
            "a genuine notification was refused: {answers:?}"
        );
    } else {
        assert!(answers.is_empty(), "polling only: {answers:?}");
    }
    if oauth {
        assert_eq!(
            env.servicenow.token_grants().first().map(String::as_str),
            Some("password")
        );
    }
    assert_no_secrets(&env, &bridge).await;
    bridge.stop().await;
}

/// No credential, access token or notification secret in the daemon's
/// logs, metrics or admin API.
async fn assert_no_secrets(env: &DemoEnv, bridge: &Bridge) {
    let mut seen = String::new();
    for path in [
        "/metrics",
        "/api/v1/outbox",
        "/api/v1/audit/verify",
        "/healthz",
    ] {
        seen.push_str(&bridge.admin_get(path).await);
    }
    for entry in std::fs::read_dir(&env.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            seen.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    assert!(
        seen.contains("servicenow"),
        "the logs and metrics were read"
    );
    for secret in [
        psa_bridge::demo::SN_PASSWORD,
        psa_bridge::demo::SN_WEBHOOK_SECRET,
        "demo-client-secret",
        "Bearer ",
        "access_token",
    ] {
        assert!(!seen.contains(secret), "{secret:?} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_story_with_notifications() {
    play_and_count(
        DemoOptions {
            webhooks: true,
            poll_interval_secs: 2,
            ..Default::default()
        },
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_story_polling_only_with_oauth() {
    play_and_count(
        DemoOptions {
            webhooks: false,
            poll_interval_secs: 1,
            ..Default::default()
        },
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_story_survives_kills_in_every_step() {
    let (_dir, env) = env(DemoOptions {
        internal: System::Servicenow,
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    // Slow vendors keep operations in flight when the kills land.
    env.servicenow
        .control()
        .set_latency(Duration::from_millis(150));
    env.connectwise
        .control()
        .set_latency(Duration::from_millis(150));
    let bridge = spawn(&env, true).await;
    let mut story = Story::new(&env, Duration::from_secs(60), false);
    let kill_after = Duration::from_millis(400);

    let bridge = play_with_kills(&mut story, bridge, kill_after, || spawn(&env, true)).await;
    settled(&env, &bridge).await;

    assert_nothing_duplicated(&env, &story);
    assert_eq!(
        env.servicenow.incident(&story.internal_id).unwrap().state,
        "Resolved"
    );
    bridge.stop().await;
    audit_verifies(&env).await;
}
