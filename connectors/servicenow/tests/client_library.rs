//! A widely used client library works against the simulator unchanged:
//! ServiceNow's official Python client `pysnc` creates, reads, queries (with
//! an encoded query, paged) and updates incidents. The virtualenv comes from
//! `scripts/python-clients.sh`; the test is skipped only when `python3` is
//! missing.

use std::path::PathBuf;
use std::process::Command;

use psa_servicenow::{ServiceNowSim, ServiceNowSimOptions};
use serde_json::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysnc_creates_reads_queries_and_updates() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED pysnc_creates_reads_queries_and_updates: python3 is not installed");
        return;
    }
    let setup = Command::new(repo_root().join("scripts/python-clients.sh"))
        .output()
        .expect("run scripts/python-clients.sh");
    assert!(
        setup.status.success(),
        "scripts/python-clients.sh failed: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let python = repo_root().join(String::from_utf8_lossy(&setup.stdout).trim());
    let sim = ServiceNowSim::start_local(ServiceNowSimOptions::default())
        .await
        .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pysnc_client.py");
    let url = sim.instance_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(url)
            .arg("bridge.integration")
            .arg("demo-password")
            .output()
    })
    .await
    .unwrap()
    .expect("run pysnc_client.py");
    assert!(
        output.status.success(),
        "pysnc script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    let created: Vec<String> = serde_json::from_value(seen["created"].clone()).unwrap();
    assert_eq!(created.len(), 3);
    let stored = sim.incident(&created[0]).expect("created through pysnc");
    assert_eq!(seen["read"]["found"], true);
    assert_eq!(seen["read"]["number"], stored.number.as_str());
    assert_eq!(seen["read"]["priority"], "2", "impact 1 × urgency 2");
    assert_eq!(seen["read"]["priority_label"], "2 - High");
    assert_eq!(seen["read"]["state_label"], "New");
    assert_eq!(seen["total"], 3);
    assert_eq!(
        seen["listed"],
        serde_json::json!(["pysnc incident 2", "pysnc incident 1", "pysnc incident 0"])
    );
    assert_eq!(seen["updated"], created[0].as_str());
    assert_eq!(
        seen["after_update"]["short_description"],
        "pysnc incident 0 (updated)"
    );
    assert_eq!(seen["after_update"]["state_label"], "In Progress");
    assert_eq!(seen["after_update"]["sys_mod_count"], "1");
    let stored = sim.incident(&created[0]).unwrap();
    assert_eq!(stored.state, "In Progress");
    let journal = sim.journal(&created[0]);
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].value, "Comment from pysnc");
    assert_eq!(journal[0].created_by, "bridge.integration");
    // Paging: the query with two per page read two pages.
    let list_reads = sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/now/table/incident")
        .count();
    assert_eq!(list_reads, 2, "three records read two per page");
}
