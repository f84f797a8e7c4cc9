//! CI smoke test of the harness: every scenario at the tiny size, against
//! the real daemon binary (debug build), and the JSON it prints has every
//! key of the issue with a sane value. It checks shape, never speed.

use std::process::Command;

/// The keys each scenario must report (besides `scenario`).
const KEYS: [(&str, &[&str]); 5] = [
    (
        "ingest",
        &[
            "accepted_per_s",
            "ceiling_per_s",
            "ratio",
            "ack_p50_ms",
            "ack_p99_ms",
        ],
    ),
    (
        "sync",
        &[
            "changes_per_s",
            "latency_p50_ms",
            "latency_p99_ms",
            "reads_per_change",
            "writes_per_change",
        ],
    ),
    (
        "latency",
        &["latency_p50_ms", "latency_p99_ms", "poll_latency_p99_ms"],
    ),
    (
        "drain",
        &[
            "achieved_over_allowed",
            "http_429",
            "peak_rss_mb",
            "restart_to_first_delivery_ms",
        ],
    ),
    (
        "micro",
        &[
            "diff_map_ns",
            "verify_autotask_ns",
            "verify_connectwise_ns",
            "verify_servicenow_ns",
            "verify_jira_ns",
            "outbox_txn_us",
        ],
    ),
];

#[test]
fn every_scenario_reports_every_key_with_a_sane_value() {
    let output = Command::new(env!("CARGO_BIN_EXE_psa-bridge-bench"))
        .args(["all", "--tiny", "--json"])
        .output()
        .expect("run psa-bridge-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the harness broke:\n{stderr}");
    let reports: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    let reports = reports.as_array().expect("a JSON array");
    assert_eq!(reports.len(), KEYS.len(), "one object per scenario");
    for ((scenario, keys), report) in KEYS.iter().zip(reports) {
        assert_eq!(report["scenario"], *scenario);
        for key in *keys {
            let value = report[*key]
                .as_f64()
                .unwrap_or_else(|| panic!("{scenario}: {key} missing or not a number: {report}"));
            if *key == "http_429" {
                assert!(value >= 0.0, "{scenario}: {key} = {value}");
            } else {
                assert!(value > 0.0, "{scenario}: {key} = {value} is not positive");
            }
        }
        let targets = report["targets"].as_array().expect("targets");
        assert!(
            !targets.is_empty() || *scenario == "micro",
            "{scenario}: no targets"
        );
        assert!(targets.iter().all(|t| t["met"].is_boolean()));
    }
    let ratio = reports[0]["ratio"].as_f64().unwrap();
    assert!(ratio > 0.0 && ratio < 10.0, "ingest ratio {ratio}");
}
