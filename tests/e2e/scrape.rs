//! Reading a daemon's `/metrics` and `/readyz` in end-to-end tests, and
//! the checks shared by them: label hygiene, the Grafana dashboard and
//! `docs/metrics.md` against what the daemon exports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::{Bridge, STEP};

/// One scraped sample: metric name, labels, value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A `/metrics` scrape, parsed.
#[derive(Debug)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// Names declared by `# TYPE` lines, with their type.
    pub types: BTreeMap<String, String>,
    pub text: String,
}

impl Scrape {
    pub fn parse(text: String) -> Scrape {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once("=\"").unwrap();
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            samples.push(Sample {
                name: name.to_string(),
                labels,
                value: value.parse().unwrap(),
            });
        }
        Scrape {
            samples,
            types,
            text,
        }
    }

    /// The sum of `name`'s samples whose labels include every pair of `with`.
    pub fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.matching(name, with).map(|s| s.value).sum()
    }

    pub fn has(&self, name: &str, with: &[(&str, &str)]) -> bool {
        self.matching(name, with).next().is_some()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        with: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && with
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

pub async fn scrape(bridge: &Bridge) -> Scrape {
    let text = reqwest::get(bridge.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Scrape::parse(text)
}

/// `/readyz` on the admin listener: with the token (reasons shown) or without.
pub async fn readyz(bridge: &Bridge, token: bool) -> (StatusCode, serde_json::Value) {
    let client = if token {
        bridge.admin_client()
    } else {
        reqwest::Client::new()
    };
    let response = client
        .get(bridge.admin_url("/readyz"))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Waits (scraping) until `check` holds on a scrape; returns that scrape.
pub async fn scrape_until(bridge: &Bridge, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + STEP * 2;
    loop {
        let s = scrape(bridge).await;
        if check(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what}:\n{}",
            s.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Label names a psa-bridge series may carry (Prometheus adds `le` to
/// histogram buckets); anything else could be a ticket id or a secret.
const LABELS: &[&str] = &[
    "connection",
    "pairing",
    "source",
    "kind",
    "outcome",
    "listener",
    "task",
    "le",
];

/// No label of a psa-bridge series names a ticket: only the allowed label
/// names, and no value that is one of `ticket_values`.
pub fn assert_no_ticket_labels(s: &Scrape, ticket_values: &[String]) {
    for sample in s
        .samples
        .iter()
        .filter(|s| s.name.starts_with("psa_bridge_"))
    {
        for (k, v) in &sample.labels {
            assert!(LABELS.contains(&k.as_str()), "label {k} on {sample:?}");
            if k == "le" {
                continue; // a bucket bound, a number by design
            }
            assert!(
                !ticket_values
                    .iter()
                    .any(|t| v == t || v.contains(&format!(":{t}"))),
                "a ticket id or number in {sample:?}"
            );
        }
    }
}

/// Every metric the Grafana dashboard's queries use is one the daemon exports.
pub fn assert_dashboard_uses_exported_series(s: &Scrape) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana/psa-bridge.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(
        exprs.len() >= 10,
        "the dashboard has its queries: {exprs:?}"
    );
    let exported: BTreeSet<&str> = s.samples.iter().map(|s| s.name.as_str()).collect();
    let mut used = BTreeSet::new();
    for expr in &exprs {
        for name in metric_names(expr) {
            assert!(
                exported.contains(name.as_str()),
                "the dashboard queries {name} ({expr}), which the daemon does not export"
            );
            used.insert(name);
        }
    }
    // The panels the issue asks for.
    for needed in [
        "psa_bridge_intake_total",
        "psa_bridge_propagation_seconds_bucket",
        "psa_bridge_plan_duration_seconds_bucket",
        "psa_bridge_delivery_duration_seconds_bucket",
        "psa_bridge_outbox_pending",
        "psa_bridge_dead_letters_total",
        "psa_bridge_api_429_total",
        "psa_bridge_rate_limit_wait_milliseconds_total",
        "psa_bridge_api_calls_total",
        "psa_bridge_ready",
    ] {
        assert!(used.contains(needed), "no panel uses {needed}");
    }
    // Importable: the datasource is the `DS_PROMETHEUS` input.
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("${DS_PROMETHEUS}"));
    assert!(dashboard["__inputs"][0]["name"] == "DS_PROMETHEUS");
}

fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    // Panel queries, and the template variable's query.
                    ("expr" | "definition", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// The metric names (`psa_bridge_…`, `process_…`) in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("psa_bridge_") || word.starts_with("process_"))
        .map(str::to_string)
        .collect()
}

/// `docs/metrics.md` lists every psa-bridge metric the daemon exported
/// here, and lists nothing it does not export.
pub fn assert_docs_list_exported_series(s: &Scrape) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let documented: BTreeSet<String> = metric_names(&docs).into_iter().collect();
    for (name, kind) in &s.types {
        if name.starts_with("psa_bridge_") || name.starts_with("process_") {
            assert!(
                documented.contains(name),
                "docs/metrics.md does not list {name} ({kind})"
            );
        }
    }
    let known: BTreeSet<&str> = s
        .types
        .keys()
        .map(String::as_str)
        .chain(psa_bridge::telemetry::METRICS.iter().map(|(n, _)| *n))
        .chain(OCCASIONAL.iter().copied())
        .collect();
    for name in &documented {
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        assert!(
            known.contains(name.as_str()) || known.contains(base),
            "docs/metrics.md lists {name}, which the daemon does not export"
        );
    }
}

/// Series that exist only after rare events (a panic, a refused
/// connection, a store rebuilt), documented but not seen after a story.
const OCCASIONAL: &[&str] = &[
    "psa_bridge_delivery_panics_total",
    "psa_bridge_connections_refused_total",
    "psa_bridge_outbox_unreadable",
    "psa_bridge_webhooks_in_flight",
];
