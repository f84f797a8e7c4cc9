//! The web dashboard in a real headless browser: Debian's Chromium driven by
//! playwright-core (`tests/browser/dashboard.mjs`, installed by
//! `scripts/browser-deps.sh`) against the daemon after a story with a dead
//! letter, a dead notice and a ticket whose title is an HTML injection. The
//! script checks the login prompt, the figures against the API, the open
//! escalations (tickets, owner, targets: `[targets]` with a first response
//! due after 2 s, so both are breached, and an 8 h resolution) against
//! `/api/v1/pairings/acme/escalations`, the hostile
//! title shown as text and the audit view, clicks Retry on the dead letter
//! and discards the dead notice; this side then sees the retried change
//! delivered to the simulator and the notice gone. Screenshots of
//! every step are kept in `target/browser-screenshots/dashboard/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions};
use serde_json::Value;

use crate::common::{env, settled, Bridge, STEP};

/// Rendered as text everywhere, never as an element (no alert, no image).
const HOSTILE_TITLE: &str = "<img src=x onerror=alert(1)>";
const P2: &str = "Priority 2 - Quick Response";
const P3: &str = "Priority 3 - Normal Response";
/// Response targets for the open-escalations view: breached and open.
const TARGETS: &str = r#"
[targets]

[[targets.priority]]
label = "*"
first_response = "2s"
resolution = "8h"
"#;
/// The whole browser script, a generous bound (it waits on conditions).
const BROWSER_LIMIT: Duration = Duration::from_secs(240);

/// Chromium, node and playwright-core, or a panic naming the install step.
fn browser_tools() -> (PathBuf, PathBuf) {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = PathBuf::from(
        std::env::var("PSA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    let missing = |what: String| -> ! {
        panic!("{what}: run scripts/browser-deps.sh (apt chromium, npm ci in tests/browser)")
    };
    if !chromium.is_file() {
        missing(format!("{} is not installed", chromium.display()));
    }
    if !browser_dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        missing(format!(
            "{}/node_modules has no playwright-core",
            browser_dir.display()
        ));
    }
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        missing("node is not on PATH".to_string());
    }
    (chromium, browser_dir)
}

/// `target/browser-screenshots/dashboard`, emptied.
fn screenshot_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is under the target folder");
    let dir = target.join("browser-screenshots/dashboard");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An id the API gives as a number or a string.
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn get_json(bridge: &Bridge, path: &str) -> Value {
    serde_json::from_str(&bridge.admin_get(path).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_headless_chromium() {
    let (chromium, browser_dir) = browser_tools();
    // Webhooks only: no poll can use up the injected read fault below.
    let mapping = format!(
        "{}\n{TARGETS}",
        include_str!("../../mappings/autotask-to-connectwise.toml")
    );
    let (_dir, env) = env(DemoOptions {
        polling: false,
        mapping: Some(mapping),
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;

    // The story's escalation, and a ticket whose title is HTML.
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let (t1, cw1) = (story.autotask_id(), story.connectwise_id());
    let hostile = env.autotask.user_create_ticket(
        HOSTILE_TITLE,
        "The title is an HTML injection.",
        "Level I Support",
        "Medium",
    );
    env.autotask.user_set_queue(hostile.id, "Escalate to MSP");
    wait_for("the hostile ticket's escalation", STEP, || {
        (env.connectwise.tickets().len() == 2).then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    assert_eq!(env.connectwise.ticket(cw1).unwrap().priority, P2);

    // A dead letter: ConnectWise refuses ticket 1's priority update for good
    // (a one-off fault, used up by that write).
    env.connectwise.control().fail_next_writes(&[400]);
    env.autotask.user_set_priority(t1, "Medium");
    let mut dead = Value::Null;
    for _ in 0..300 {
        dead = get_json(&bridge, "/api/v1/outbox?state=dead").await["items"][0].clone();
        if !dead.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dead.is_object(), "no dead letter appeared");
    // A dead notice: reading the hostile ticket is refused for good.
    env.autotask.control().fail_next_reads(&[403]);
    env.autotask.user_set_priority(hostile.id, "High");
    let mut notice = Value::Null;
    for _ in 0..300 {
        notice = get_json(&bridge, "/api/v1/notices/dead").await[0].clone();
        if !notice.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let notice_id = id_of(&notice["id"]).or_else(|| id_of(&notice["item"]["id"]));
    let notice_id = notice_id.unwrap_or_else(|| panic!("no dead notice appeared: {notice}"));
    settled(&env, &bridge).await;
    assert_eq!(env.connectwise.ticket(cw1).unwrap().priority, P2);

    // Both escalations are open; their first response is overdue.
    let open = get_json(&bridge, "/api/v1/pairings/acme/escalations").await;
    let items = open["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{open}");
    assert!(
        items
            .iter()
            .all(|i| i["targets"][0]["outcome"] == "breached"
                && i["targets"][1]["outcome"] == "open"),
        "{open}"
    );

    let out = screenshot_dir();
    println!("dashboard screenshots: {}", out.display());
    let mut script = tokio::process::Command::new("node")
        .arg("dashboard.mjs")
        .arg("--url")
        .arg(bridge.admin_url("/"))
        .arg("--token")
        .arg(bridge.admin_token())
        .arg("--out")
        .arg(&out)
        .arg("--dead")
        .arg(format!("outbox:{}", id_of(&dead["id"]).unwrap()))
        .arg("--discard")
        .arg(format!("notices:{notice_id}"))
        .arg("--xss")
        .arg(HOSTILE_TITLE)
        .arg("--xss-ticket")
        .arg(format!("autotask:{}", hostile.id))
        .arg("--escalations")
        .arg("2")
        .env("PSA_CHROMIUM", &chromium)
        .current_dir(&browser_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let (stdout, stderr) = (script.stdout.take().unwrap(), script.stderr.take().unwrap());
    let read = |mut pipe: Box<dyn tokio::io::AsyncRead + Unpin + Send>| async move {
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut text)
            .await
            .unwrap();
        text
    };
    let run = async {
        let (out, err, status) = tokio::join!(
            read(Box::new(stdout)),
            read(Box::new(stderr)),
            script.wait()
        );
        (out, err, status.unwrap())
    };
    let (output, errors, status) = tokio::time::timeout(BROWSER_LIMIT, run)
        .await
        .expect("the browser script did not finish in time");
    println!("{output}");
    eprintln!("{errors}");
    assert!(
        status.success(),
        "the dashboard failed in the browser ({status}): {errors}\nscreenshots in {}",
        out.display()
    );
    assert!(output.contains("all steps passed"), "{output}");

    // The Retry click got the change delivered: ticket 1 is planned again
    // from its current priority (Medium) and ConnectWise has it.
    wait_for("the retried update on ConnectWise", STEP, || {
        (env.connectwise.ticket(cw1)?.priority == P3).then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    let left = get_json(&bridge, "/api/v1/outbox?state=dead").await;
    assert_eq!(left["items"], Value::Array(Vec::new()), "{left}");
    let notices = get_json(&bridge, "/api/v1/notices/dead").await;
    assert_eq!(notices, Value::Array(Vec::new()), "the discarded notice");
    let activity = bridge.admin_get("/api/v1/activity?limit=500").await;
    assert!(
        activity.contains("discarded in the browser test"),
        "the discard and its reason are audited: {activity}"
    );
    let shots = std::fs::read_dir(&out).unwrap().count();
    assert!(shots >= 9, "{shots} screenshots in {}", out.display());
    bridge.stop().await;
}
