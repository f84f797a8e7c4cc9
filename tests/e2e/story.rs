//! The escalation story through the real daemon, with webhooks and with
//! polling only: same end state, exactly the expected writes, no echoes.

use psa_bridge::demo::story::{Story, EXPECTED_WRITES};
use psa_bridge::demo::DemoOptions;

use crate::common::{env, settled, Bridge, STEP};

/// Plays the story, checking the bridge's write count after every step.
async fn play_and_count(options: DemoOptions) {
    let (_dir, env) = env(options).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);

    story.escalate().await.unwrap();
    // ConnectWise: the ticket. Autotask: the write-back note and the MSP Ticket field.
    assert_eq!(settled(&env, &bridge).await, (2, 1), "after escalation");
    let cw = env.connectwise.ticket(story.connectwise_id()).unwrap();
    assert_eq!(cw.board, "Co-Managed");
    assert_eq!(cw.company, "ACME");
    assert_eq!(cw.status, "New");
    assert_eq!(cw.priority, "Priority 2 - Quick Response");
    assert_eq!(
        cw.summary,
        format!("VPN down at branch office [{}]", story.internal_number)
    );
    assert!(cw.initial_description.contains("Leeds branch"));
    assert!(
        cw.external_xref.starts_with("psa-bridge:acme:"),
        "{}",
        cw.external_xref
    );

    story.msp_picks_up().await.unwrap();
    // Autotask: status and the discussion note; the internal note stays in ConnectWise.
    assert_eq!(
        settled(&env, &bridge).await,
        (4, 1),
        "after the MSP picked up"
    );
    let at_notes = env.autotask.notes(story.autotask_id());
    assert!(
        !at_notes.iter().any(|n| n.text.contains("firmware")),
        "internal CW note leaked: {at_notes:?}"
    );
    let mirrored = at_notes
        .iter()
        .find(|n| n.text.contains("VPN logs"))
        .unwrap();
    assert!(
        mirrored.text.contains("jsmith") || mirrored.text.contains("John"),
        "author shown: {}",
        mirrored.text
    );

    story.tech_replies().await.unwrap();
    // ConnectWise: the reply and the priority.
    assert_eq!(
        settled(&env, &bridge).await,
        (4, 3),
        "after the tech replied"
    );

    story.msp_resolves().await.unwrap();
    // Autotask: resolution note, status Complete, the close-rule note.
    assert_eq!(
        settled(&env, &bridge).await,
        EXPECTED_WRITES,
        "after resolution"
    );
    let at = env.autotask.ticket(story.autotask_id()).unwrap();
    assert_eq!(at.status, "Complete");
    assert_eq!(at.priority, "Critical");
    let cw = env.connectwise.ticket(story.connectwise_id()).unwrap();
    assert!(cw.closed);
    assert_eq!(
        env.connectwise.tickets().len(),
        1,
        "exactly one ConnectWise ticket"
    );
    // Every note exists once on each side.
    for text in ["VPN logs", "expired VPN certificate"] {
        assert_eq!(
            env.autotask
                .notes(story.autotask_id())
                .iter()
                .filter(|n| n.text.contains(text))
                .count(),
            1,
            "{text}"
        );
    }
    assert_eq!(
        env.connectwise
            .notes(story.connectwise_id())
            .iter()
            .filter(|n| n.text.contains("on site until"))
            .count(),
        1
    );
    assert_no_secrets(&env, &bridge).await;
    bridge.stop().await;
}

/// Secrets never appear in the daemon's logs, metrics or admin API.
async fn assert_no_secrets(env: &psa_bridge::demo::DemoEnv, bridge: &Bridge) {
    let cw = psa_connectwise::sim::ConnectWiseSimOptions::default();
    let secrets = [
        psa_bridge::demo::AT_SECRET,
        psa_bridge::demo::AT_WEBHOOK_SECRET,
        cw.private_key.as_str(),
    ];
    let mut seen = String::new();
    for path in ["/metrics", "/api/v1/outbox", "/api/v1/audit/verify"] {
        seen.push_str(
            &bridge
                .admin_client()
                .get(bridge.admin_url(path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    for entry in std::fs::read_dir(&env.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            seen.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    assert!(
        seen.contains("psa_bridge_deliveries_total"),
        "metrics are exported"
    );
    for secret in secrets {
        assert!(!seen.contains(secret), "secret {secret:?} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_story_with_webhooks() {
    play_and_count(DemoOptions {
        webhooks: true,
        poll_interval_secs: 2,
        ..Default::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_story_polling_only() {
    play_and_count(DemoOptions {
        webhooks: false,
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
}
