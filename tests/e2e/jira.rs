//! The escalation story with Jira Service Management as the internal side
//! and Autotask as the MSP, through the real daemon: signed admin webhooks
//! and polling only, with exact write counts (no echoes), and with SIGKILLs
//! in the middle of every step (no duplicate issue, ticket or comment).

use std::time::Duration;

use psa_bridge::demo::story::{Story, JIRA_TO_AUTOTASK};
use psa_bridge::demo::{DemoEnv, DemoOptions, System};

use crate::common::{env, play_with_kills, settled, Bridge, STEP};
use crate::steps::audit_verifies;

fn jira_options(options: DemoOptions) -> DemoOptions {
    DemoOptions {
        internal: System::Jira,
        msp: System::Autotask,
        ..options
    }
}

fn comment_count(env: &DemoEnv, issue: &str, needle: &str) -> usize {
    env.jira
        .comments(issue)
        .iter()
        .filter(|c| c.text.contains(needle))
        .count()
}

/// One issue, one Autotask ticket, each of the story's notes exactly once
/// where it crosses to.
fn assert_nothing_duplicated(env: &DemoEnv, story: &Story<'_>) {
    assert_eq!(env.jira.issues().len(), 1, "no duplicate issue");
    assert_eq!(env.autotask.tickets().len(), 1, "no duplicate ticket");
    for needle in [
        "VPN logs",
        "expired VPN certificate",
        "Escalated to the MSP",
    ] {
        assert_eq!(
            comment_count(env, &story.internal_id, needle),
            1,
            "{needle}"
        );
    }
    let at_notes = env.autotask.notes(story.msp_id.parse().unwrap());
    let replies = at_notes.iter().filter(|n| n.text.contains("on site until"));
    assert_eq!(replies.count(), 1, "{at_notes:?}");
}

async fn play_and_count(options: DemoOptions) {
    let webhooks = options.webhooks;
    let (_dir, env) = env(jira_options(options)).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);

    story.escalate().await.unwrap();
    // Autotask: the ticket. Jira: the write-back comment and "MSP Ticket".
    assert_eq!(settled(&env, &bridge).await, (2, 1), "after escalation");
    let at = env.autotask.ticket(story.msp_id.parse().unwrap()).unwrap();
    assert_eq!(
        at.title,
        format!("VPN down at branch office [{}]", story.internal_number)
    );
    assert_eq!(at.priority, "High");
    assert_eq!(at.queue, "Level II Support");
    assert!(
        at.description.contains("Leeds branch"),
        "{}",
        at.description
    );
    let write_back = env
        .jira
        .comments(&story.internal_id)
        .into_iter()
        .find(|c| c.text.contains("Escalated to the MSP"))
        .unwrap();
    assert!(!write_back.public, "the write-back stays internal");

    story.msp_picks_up().await.unwrap();
    // Jira: In Progress is two transitions away from Escalated, and the
    // public comment; the Autotask internal note stays there.
    assert_eq!(
        settled(&env, &bridge).await,
        (5, 1),
        "after the MSP picked up"
    );
    assert_eq!(comment_count(&env, &story.internal_id, "firmware"), 0);

    story.tech_replies().await.unwrap();
    assert_eq!(
        settled(&env, &bridge).await,
        (5, 3),
        "after the tech replied"
    );

    story.msp_resolves().await.unwrap();
    assert_eq!(
        settled(&env, &bridge).await,
        JIRA_TO_AUTOTASK.expected_writes,
        "after resolution"
    );
    let issue = env.jira.issue(&story.internal_id).unwrap();
    assert_eq!(issue.status, "Resolved");
    assert_eq!(issue.resolution.as_deref(), Some("Fixed"));
    assert_eq!(issue.priority, "Highest");
    assert_nothing_duplicated(&env, &story);
    let answers = env.jira.control().webhook_answers();
    if webhooks {
        assert!(
            answers.contains(&200),
            "webhooks were accepted: {answers:?}"
        );
        assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    } else {
        assert!(answers.is_empty(), "polling only: {answers:?}");
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_story_with_webhooks() {
    play_and_count(DemoOptions {
        webhooks: true,
        poll_interval_secs: 2,
        ..Default::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_story_polling_only() {
    play_and_count(DemoOptions {
        webhooks: false,
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_story_survives_kills_in_every_step() {
    let (_dir, env) = env(jira_options(DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    }))
    .await;
    env.jira.control().set_latency(Duration::from_millis(150));
    env.autotask
        .control()
        .set_latency(Duration::from_millis(150));
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, Duration::from_secs(60), false);
    let kill_after = Duration::from_millis(400);
    let bridge = play_with_kills(&mut story, bridge, kill_after, || {
        Bridge::spawn(&env.config_path)
    })
    .await;
    settled(&env, &bridge).await;
    assert_nothing_duplicated(&env, &story);
    assert_eq!(
        env.jira.issue(&story.internal_id).unwrap().status,
        "Resolved"
    );
    bridge.stop().await;
    audit_verifies(&env).await;
}

/// A rich ADF description (heading, lists, code, link, mention) arrives in
/// Autotask as readable text; an Autotask note arrives in Jira as valid ADF
/// that renders to the same text; a JSM internal comment stays in Jira.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adf_crosses_readably_and_internal_comments_stay_internal() {
    let (_dir, env) = env(jira_options(DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    }))
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let description = serde_json::json!({
        "type": "doc", "version": 1, "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Symptoms"}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "VPN drops every 5 minutes"}]}]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Only at the Leeds branch"}]}]}
            ]},
            {"type": "codeBlock", "content": [{"type": "text", "text": "ping -c 3 10.0.0.1"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "See "},
                {"type": "text", "text": "the runbook", "marks": [{"type": "link", "attrs": {"href": "https://wiki.example/vpn"}}]},
                {"type": "text", "text": " and ask "},
                {"type": "mention", "attrs": {"id": "5b10a2844c20165700ede21g", "text": "@Alex Ops"}}
            ]}
        ]
    });
    let issue = env
        .jira
        .user_create_issue_adf("HELP", "VPN flapping", description, "High")
        .unwrap();
    env.jira.user_transition(&issue.key, "Escalated", None);
    let at_id: i64 = psa_bridge::demo::wait_for("the Autotask ticket", STEP, || {
        env.autotask.tickets().first().map(|t| t.id)
    })
    .await
    .unwrap();
    let at = env.autotask.ticket(at_id).unwrap();
    for readable in [
        "Symptoms",
        "VPN drops every 5 minutes",
        "Only at the Leeds branch",
        "ping -c 3 10.0.0.1",
        "the runbook",
        "https://wiki.example/vpn",
        "Alex Ops",
    ] {
        assert!(
            at.description.contains(readable),
            "{readable:?} in {:?}",
            at.description
        );
    }
    assert!(
        !at.description.contains("\"type\""),
        "no raw ADF: {}",
        at.description
    );

    let note = "Line one of the MSP's note.\n\nSecond paragraph: résumé, 東京.";
    env.autotask.user_add_note(at_id, note, false, "jsmith");
    env.jira
        .user_add_comment(&issue.key, "Internal: VPN vendor case 4711", false, "Tina");
    let mirrored = psa_bridge::demo::wait_for("the note in Jira", STEP, || {
        env.jira
            .comments(&issue.key)
            .into_iter()
            .find(|c| c.text.contains("Line one of the MSP's note."))
    })
    .await
    .unwrap();
    assert!(mirrored.public, "a public note arrives public");
    assert_eq!(mirrored.body["type"], "doc", "{}", mirrored.body);
    assert_eq!(mirrored.body["version"], 1, "{}", mirrored.body);
    let rendered = psa_jira::adf::to_text(&mirrored.body).unwrap();
    assert!(rendered.contains(note), "{rendered:?}");
    settled(&env, &bridge).await;
    let at_notes = env.autotask.notes(at_id);
    assert!(
        !at_notes.iter().any(|n| n.text.contains("vendor case 4711")),
        "a JSM internal comment crossed: {at_notes:?}"
    );
    bridge.stop().await;
}
