//! `psa-bridge demo` through the real binary: stdout tells the story with
//! no log lines, the daemon's log is in the file the demo names; `demo
//! --serve` keeps running, and every command it prints works: the admin
//! token opens the admin API, the desk commands change a ticket on one side
//! and the change arrives on the other; SIGTERM then exits 0.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::{cli_with_env, BIN, STEP};

/// Whether `text` has a line a log formatter wrote.
fn has_log_line(text: &str) -> bool {
    text.lines().any(|l| {
        [" INFO ", " DEBUG ", " TRACE "]
            .iter()
            .any(|level| l.contains(level))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_its_story_and_logs_to_the_file_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("demo");
    let output = cli_with_env(
        &["demo", "--store", store.to_str().unwrap()],
        &[("RUST_LOG", "info")],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for line in [
        "[Autotask]    Tina (tier 1) opens",
        "[ConnectWise] John adds a resolution note and closes",
        "Audit chain verified",
        "Demo complete",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert!(!has_log_line(&stdout), "log lines on stdout:\n{stdout}");
    assert!(!has_log_line(&stderr), "log lines on stderr:\n{stderr}");
    let named = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Daemon log: "))
        .expect("the demo names its log file");
    assert_eq!(std::path::Path::new(named), store.join("demo.log"));
    let log = std::fs::read_to_string(named).unwrap();
    assert!(log.contains("psa-bridge running"), "{log}");
    assert!(log.contains(" INFO "), "{log}");
}

/// Runs a printed shell command; its stdout.
async fn run(command: &str) -> String {
    let output = Command::new("sh")
        .args(["-c", command])
        .output()
        .await
        .expect("run sh");
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `command` (a printed `curl` of one ticket) until `check` holds.
async fn until(command: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(STEP, async {
        loop {
            let ticket: Value = serde_json::from_str(&run(command).await).unwrap();
            if check(&ticket) {
                return ticket;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} did not arrive"))
}

fn has_note(ticket: &Value, text: &str) -> bool {
    ticket["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["text"].as_str().unwrap().contains(text) && n["public"] == true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serve_keeps_running_and_its_printed_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("demo");
    let mut child = Command::new(BIN)
        .args(["demo", "--serve", "--store", store.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.contains("curl -s http");
            printed.push(line);
            if done {
                return;
            }
        }
        panic!("the demo ended early:\n{}", printed.join("\n"));
    })
    .await
    .expect("the demo printed its commands");
    let field = |name: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{name} not printed:\n{}", printed.join("\n")))
    };
    let dashboard = field("Dashboard:");
    let token = field("Admin token:");
    assert!(dashboard.starts_with("http://127.0.0.1:") && dashboard.ends_with('/'));
    assert!(field("Simulators:").contains("Autotask http://127.0.0.1:"));
    let client = reqwest::Client::new();
    let verify = client
        .get(format!("{dashboard}api/v1/audit/verify"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        verify.status(),
        200,
        "the printed token opens the admin API"
    );
    let health = run(&field("Admin API:")).await;
    assert!(health.contains("\"tasks\""), "{health}");

    let commands: Vec<String> = printed
        .iter()
        .filter_map(|l| {
            l.trim_start()
                .strip_prefix("curl ")
                .map(|c| format!("curl {c}"))
        })
        .collect();
    let posts: Vec<&String> = commands.iter().filter(|c| c.contains("-X POST")).collect();
    assert_eq!(posts.len(), 4, "{commands:?}");
    let shows: Vec<&str> = commands.last().unwrap().split(" ; ").collect();
    let (internal, msp) = (shows[0], shows[1]);

    // Priority on Autotask → ConnectWise.
    let answer: Value = serde_json::from_str(&run(posts[0]).await).unwrap();
    assert_eq!(answer["priority"], "Critical");
    until(msp, "the priority on ConnectWise", |t| {
        t["priority"] == "Priority 1 - Emergency Response"
    })
    .await;
    // Status on ConnectWise → Autotask.
    run(posts[1]).await;
    until(internal, "the status on Autotask", |t| {
        t["status"] == "In Progress"
    })
    .await;
    // Notes both ways.
    run(posts[2]).await;
    until(internal, "ConnectWise's note on Autotask", |t| {
        has_note(t, "On site at 14:00")
    })
    .await;
    run(posts[3]).await;
    until(msp, "Autotask's note on ConnectWise", |t| {
        has_note(t, "reception knows you are coming")
    })
    .await;

    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .arg(&pid)
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(STEP, child.wait())
        .await
        .expect("the demo stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l == "Stopped."), "{rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_refuses_one_system_on_both_sides() {
    let output = crate::common::cli(&["demo", "--internal", "jira", "--msp", "jira"]).await;
    let out = crate::common::text(&output);
    assert!(!output.status.success(), "{out}");
    assert!(
        out.contains("--internal jira --msp jira") && out.contains("different systems"),
        "{out}"
    );
    assert!(
        out.contains("--internal connectwise --msp jira"),
        "lists the directions: {out}"
    );
}
