//! A widely used Jira client library (pycontribs `jira`, from PyPI) works
//! against the simulator unchanged: `tests/jira_client.py`, run through
//! `scripts/jira-client.sh` (a virtualenv under `target/`), searches,
//! reads, creates, transitions and comments. Skipped only when python3 is
//! missing.

mod common;

use std::path::PathBuf;
use std::process::Command;

#[tokio::test]
async fn the_python_jira_library_works_against_the_simulator() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 is not installed, so the Python jira client cannot run");
        return;
    }
    let sim = common::start_sim().await;
    for n in 1..=3 {
        sim.user_create_issue("HELP", &format!("Seeded {n}"), "Seed.", "Medium")
            .unwrap();
    }
    sim.user_create_issue("DEV", "Not in HELP", "", "Medium")
        .unwrap();
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = manifest.join("../../scripts/jira-client.sh");
    let client = manifest.join("tests/jira_client.py");
    let o = sim.options().clone();
    let base = sim.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(script)
            .arg(client)
            .arg(base)
            .arg(&o.email)
            .arg(&o.api_token)
            .output()
    })
    .await
    .unwrap()
    .expect("run scripts/jira-client.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the jira library failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"created\": \"HELP-4\""), "{stdout}");
    let created = sim.issue("HELP-4").unwrap();
    assert_eq!(
        (created.status.as_str(), created.resolution.as_deref()),
        ("Resolved", Some("Fixed"))
    );
    let comments = sim.comments("HELP-4");
    assert_eq!(
        comments.iter().map(|c| c.public).collect::<Vec<_>>(),
        [true, false]
    );
    // It searched through search/jql, never the removed endpoint.
    let paths: Vec<String> = sim
        .control()
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        paths.iter().any(|p| p == "/rest/api/3/search/jql"),
        "{paths:?}"
    );
    assert!(
        !paths.iter().any(|p| p == "/rest/api/3/search"),
        "{paths:?}"
    );
}
