//! Metrics and `/readyz` through the real daemon on the simulators: after
//! the story every series the docs list exists with the right labels and
//! plausible values; a throttling burst shows in the 429 counter, an
//! injected permanent failure in the dead-letter counter; `/readyz` turns
//! 503 while a simulator fails and 200 again after; no label carries a
//! ticket id; the Grafana dashboard and the docs use only series the
//! daemon exports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{DemoEnv, DemoOptions};
use reqwest::StatusCode;

use crate::common::{env, settled, Bridge, STEP};

/// One scraped sample: metric name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A `/metrics` scrape, parsed.
#[derive(Debug)]
struct Scrape {
    samples: Vec<Sample>,
    /// Names declared by `# TYPE` lines, with their type.
    types: BTreeMap<String, String>,
    text: String,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
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
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.matching(name, with).map(|s| s.value).sum()
    }

    fn has(&self, name: &str, with: &[(&str, &str)]) -> bool {
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

async fn scrape(bridge: &Bridge) -> Scrape {
    let text = reqwest::get(bridge.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Scrape::parse(text)
}

/// `/readyz` on the admin listener: with the token (reasons shown) or without.
async fn readyz(bridge: &Bridge, token: bool) -> (StatusCode, serde_json::Value) {
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
async fn scrape_until(bridge: &Bridge, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
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

const CONNECTIONS: [&str; 2] = ["autotask", "connectwise"];

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
fn assert_no_ticket_labels(s: &Scrape, ticket_values: &[String]) {
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

/// The plan: webhooks and polling (the demo's default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_shows_in_the_metrics_and_the_dashboard_uses_only_exported_series() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;
    story.msp_picks_up().await.unwrap();
    settled(&env, &bridge).await;
    story.tech_replies().await.unwrap();
    settled(&env, &bridge).await;
    story.msp_resolves().await.unwrap();
    let (at_writes, cw_writes) = settled(&env, &bridge).await;
    let s = scrape(&bridge).await;

    // Intake: the story's changes arrived by webhook; polls found the
    // same changes already planned (or counted them as repeats).
    for conn in CONNECTIONS {
        let webhook = [("connection", conn), ("source", "webhook")];
        assert!(
            s.sum(
                "psa_bridge_intake_total",
                &[webhook[0], webhook[1], ("outcome", "accepted")]
            ) >= 1.0,
            "{conn} webhooks:\n{}",
            s.text
        );
        assert!(s.has(
            "psa_bridge_intake_total",
            &[("connection", conn), ("source", "poll")]
        ));
    }

    // Delivery latency: one observation per delivery made, by connection.
    let mut delivered_total = 0.0;
    for conn in CONNECTIONS {
        let delivered = s.sum(
            "psa_bridge_deliveries_total",
            &[("connection", conn), ("outcome", "delivered")],
        );
        let timed = s.sum(
            "psa_bridge_delivery_duration_seconds_count",
            &[("connection", conn), ("outcome", "delivered")],
        );
        assert!(delivered >= 1.0, "{conn}:\n{}", s.text);
        assert_eq!(timed, delivered, "{conn}: a latency per delivery");
        delivered_total += delivered;
        let sum = s.sum(
            "psa_bridge_delivery_duration_seconds_sum",
            &[("connection", conn)],
        );
        assert!(sum > 0.0 && sum < 60.0 * delivered, "{conn}: {sum} s");
    }
    // Each delivered operation is one ticket or note write on a simulator.
    assert_eq!(delivered_total as usize, at_writes + cw_writes);

    // Propagation: every delivered operation carries its change's time,
    // the escalation's write-backs (the internal ticket's note and field,
    // follow-ups of the create) too: one observation per write.
    let propagated = s.sum(
        "psa_bridge_propagation_seconds_count",
        &[("pairing", "acme")],
    );
    assert_eq!(propagated, delivered_total, "{}", s.text);
    for conn in CONNECTIONS {
        assert!(
            s.sum(
                "psa_bridge_propagation_seconds_count",
                &[("connection", conn)]
            ) >= 1.0,
            "{conn}"
        );
    }
    let seconds = s.sum("psa_bridge_propagation_seconds_sum", &[]);
    assert!(
        seconds > 0.0 && seconds < 60.0 * propagated,
        "webhook-driven changes cross within seconds: {seconds} s for {propagated}"
    );
    assert!(s.has(
        "psa_bridge_propagation_seconds_bucket",
        &[("pairing", "acme"), ("le", "+Inf")]
    ));

    // Planning latency.
    for conn in CONNECTIONS {
        assert!(
            s.sum(
                "psa_bridge_plan_duration_seconds_count",
                &[("connection", conn), ("outcome", "planned")]
            ) >= 1.0,
            "{conn}"
        );
    }

    // Vendor API use, by connection and kind.
    for conn in CONNECTIONS {
        let reads = s.sum(
            "psa_bridge_api_calls_total",
            &[("connection", conn), ("kind", "read")],
        );
        let writes = s.sum(
            "psa_bridge_api_calls_total",
            &[("connection", conn), ("kind", "write")],
        );
        assert!(reads >= 1.0, "{conn} reads");
        assert!(writes >= 1.0, "{conn} writes");
        for name in [
            "psa_bridge_api_429_total",
            "psa_bridge_api_failures_total",
            "psa_bridge_rate_limit_wait_milliseconds_total",
            "psa_bridge_api_calls_last_hour",
            "psa_bridge_api_last_success_timestamp_seconds",
            "psa_bridge_delivery_retries_total",
            "psa_bridge_dead_letters_total",
            "psa_bridge_dead_notices_total",
            "psa_bridge_connection_reachable",
        ] {
            assert!(s.has(name, &[("connection", conn)]), "{name} for {conn}");
        }
        assert!(
            s.sum("psa_bridge_api_calls_last_hour", &[("connection", conn)])
                >= reads + writes - 0.5
        );
    }
    assert_eq!(s.sum("psa_bridge_ready", &[]), 1.0);
    assert_eq!(s.sum("psa_bridge_dead_letters_total", &[]), 0.0);

    let tickets = vec![
        story.internal_id.clone(),
        story.internal_number.clone(),
        story.msp_id.clone(),
        story.msp_number.clone(),
    ];
    assert_no_ticket_labels(&s, &tickets);
    assert_dashboard_uses_exported_series(&s);
    assert_docs_list_exported_series(&s);
    bridge.stop().await;
}

/// Every metric the Grafana dashboard's queries use is one the daemon exports.
fn assert_dashboard_uses_exported_series(s: &Scrape) {
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
fn assert_docs_list_exported_series(s: &Scrape) {
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

/// Polling only: intake by poll; a throttling burst counts 429s; `/readyz`
/// is 503 while ConnectWise fails and 200 again after; a permanent failure
/// counts a dead letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_429s_and_dead_letters_through_the_daemon() {
    let options = DemoOptions {
        webhooks: false,
        ..Default::default()
    };
    let (_dir, env) = env(options).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let (code, body) = readyz(&bridge, false).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"]["state"], "ok");
    assert_eq!(body["connections"]["connectwise"]["state"], "reachable");

    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;
    let s = scrape(&bridge).await;
    assert!(
        s.sum(
            "psa_bridge_intake_total",
            &[
                ("connection", "autotask"),
                ("source", "poll"),
                ("outcome", "accepted")
            ]
        ) >= 1.0,
        "{}",
        s.text
    );
    assert!(
        !s.has("psa_bridge_intake_total", &[("source", "webhook")]),
        "no webhooks"
    );

    // A throttling burst (ended once seen, so no poll timing matters):
    // polls get 429s, counted, and a 429 does not make a connection unready.
    env.connectwise
        .control()
        .throttle_for(Duration::from_secs(300), 1);
    let s = scrape_until(&bridge, "a ConnectWise 429", |s| {
        s.sum("psa_bridge_api_429_total", &[("connection", "connectwise")]) >= 1.0
    })
    .await;
    env.connectwise.control().throttle_for(Duration::ZERO, 1);
    assert_eq!(
        readyz(&bridge, false).await.0,
        StatusCode::OK,
        "a 429 is an answer"
    );
    assert_eq!(
        s.sum("psa_bridge_api_429_total", &[("connection", "autotask")]),
        0.0
    );

    // ConnectWise fails every request: unreachable once past its budget
    // (poll interval + timeout), and the reason only with the token.
    env.connectwise.control().set_error_rate(1.0);
    let deadline = tokio::time::Instant::now() + STEP * 2;
    let body = loop {
        let (code, body) = readyz(&bridge, true).await;
        if code == StatusCode::SERVICE_UNAVAILABLE {
            break body;
        }
        assert_eq!(code, StatusCode::OK, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never unready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["connections"]["connectwise"]["state"], "unreachable");
    assert_eq!(body["connections"]["autotask"]["state"], "reachable");
    let reason = body["connections"]["connectwise"]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("failing"), "{reason}");
    let (code, public) = readyz(&bridge, false).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(public["connections"]["connectwise"].get("reason").is_none());
    let s = scrape(&bridge).await;
    assert_eq!(s.sum("psa_bridge_ready", &[]), 0.0);
    assert_eq!(
        s.sum(
            "psa_bridge_connection_reachable",
            &[("connection", "connectwise")]
        ),
        0.0
    );
    assert!(
        s.sum(
            "psa_bridge_api_failures_total",
            &[("connection", "connectwise")]
        ) >= 1.0
    );

    env.connectwise.control().set_error_rate(0.0);
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let (code, body) = readyz(&bridge, true).await;
        if code == StatusCode::OK {
            assert_eq!(body["connections"]["connectwise"]["state"], "reachable");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready again: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // A permanent failure: the MSP's next write is refused for good.
    dead_letter_on_connectwise(&env, &story).await;
    let s = scrape_until(&bridge, "a ConnectWise dead letter", |s| {
        s.sum(
            "psa_bridge_dead_letters_total",
            &[("connection", "connectwise")],
        ) >= 1.0
    })
    .await;
    assert_eq!(
        s.sum(
            "psa_bridge_dead_letters_total",
            &[("connection", "connectwise")]
        ),
        1.0
    );
    assert_eq!(
        s.sum(
            "psa_bridge_dead_letters_total",
            &[("connection", "autotask")]
        ),
        0.0
    );
    assert_eq!(
        s.sum(
            "psa_bridge_deliveries_total",
            &[("connection", "connectwise"), ("outcome", "dead_letter")]
        ),
        1.0
    );
    let tickets = vec![
        story.internal_id.clone(),
        story.internal_number.clone(),
        story.msp_id.clone(),
        story.msp_number.clone(),
    ];
    assert_no_ticket_labels(&s, &tickets);
    bridge.stop().await;
}

/// Changes the internal ticket's priority with ConnectWise refusing the
/// next write (400): the update to ConnectWise is dead-lettered.
async fn dead_letter_on_connectwise(env: &DemoEnv, story: &Story<'_>) {
    env.connectwise.control().fail_next_writes(&[400]);
    env.autotask
        .user_set_priority(story.autotask_id(), "Critical");
}

/// `daemon.metrics_listen` serves `/readyz` too, without a token and
/// without reason texts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_serves_readyz() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let original = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        original.replace(
            "admin_listen = \"127.0.0.1:0\"\n",
            "admin_listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n",
        ),
    )
    .unwrap();
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon)
        .await
        .unwrap();
    let daemon = psa_bridge::daemon::start(
        loaded,
        listeners,
        std::sync::Arc::new(psa_bridge::clock::SystemClock),
    )
    .await
    .unwrap();
    let metrics = daemon.metrics_addr.expect("a metrics listener");
    let response = reqwest::get(format!("http://{metrics}/readyz"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["connections"]["autotask"]["state"], "reachable");
    daemon.shutdown().await;
}
