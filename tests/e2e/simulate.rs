//! `psa-bridge simulate`: each simulator runs standalone and answers like the vendor.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::{BIN, STEP};

async fn start(vendor: &str) -> (tokio::process::Child, String) {
    let mut child = Command::new(BIN)
        .args(["simulate", vendor, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(STEP, async {
        loop {
            let line = lines.next_line().await.unwrap().expect("simulator exited");
            if let Some(rest) = line.split("simulator on ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
    })
    .await
    .unwrap();
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulators_run_standalone() {
    let client = reqwest::Client::new();
    let (_at, url) = start("autotask").await;
    let zone: serde_json::Value = client
        .get(format!(
            "{url}/atservicesrest/v1.0/zoneInformation?user=bridge@example.com"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        zone["url"].as_str().unwrap().contains("/ATServicesRest/"),
        "{zone}"
    );
    let unauthenticated = client
        .get(format!("{url}/ATServicesRest/V1.0/Tickets/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let (_cw, url) = start("connectwise").await;
    let info: serde_json::Value = client
        .get(format!("{url}/login/companyinfo/demo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info["Codebase"].as_str().unwrap().ends_with('/'), "{info}");

    // ServiceNow: the Table API with Basic auth, its error envelope without.
    let (_sn, url) = start("servicenow").await;
    let incidents = client
        .get(format!("{url}/api/now/table/incident?sysparm_limit=1"))
        .basic_auth(
            psa_bridge::demo::SN_USER,
            Some(psa_bridge::demo::SN_PASSWORD),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(incidents.status(), 200);
    let refused = client
        .get(format!("{url}/api/now/table/incident"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["status"], "failure", "{body}");

    // Jira: the project's search with Basic e-mail:token auth.
    let (_jira, url) = start("jira").await;
    let jira = psa_jira::sim::JiraSimOptions::default();
    let found: serde_json::Value = client
        .post(format!("{url}/rest/api/3/search/jql"))
        .basic_auth(&jira.email, Some(&jira.api_token))
        .json(&serde_json::json!({ "jql": "project = HELP" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(found["issues"].is_array(), "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format_writes_json_lines() {
    let mut child = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "simulate",
            "connectwise",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(STEP, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("a log line");
    let parsed: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(parsed["level"], "INFO", "{line}");
    assert!(parsed["fields"]["message"].is_string(), "{line}");
}

/// Fault rates outside 0..=1 are refused with a message naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_rates_outside_zero_to_one_are_refused() {
    for flag in ["--error-rate", "--ambiguous-rate"] {
        let out = crate::common::cli(&[
            "simulate",
            "autotask",
            "--listen",
            "127.0.0.1:0",
            flag,
            "1.5",
        ])
        .await;
        let text = crate::common::text(&out);
        assert!(!out.status.success(), "{flag} 1.5 accepted: {text}");
        assert!(
            text.contains(flag) && text.contains("between 0 and 1"),
            "{text}"
        );
    }
}
