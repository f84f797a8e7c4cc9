//! No credential ever leaves the configuration, on any connector: each
//! pairing's story plus a dead letter carrying note content runs with the
//! daemon and the CLI logging at trace, first in one log format (human or
//! JSON), then after a restart in the other; then every secret of both
//! connections (API users, passwords, keys, tokens, webhook secrets, the
//! Basic authorisation values built from them, the admin token) is searched
//! for, as is and URL-encoded, in the logs, every GET route of the admin
//! API (walked from its route table), `/metrics`, both `/healthz`, every CLI
//! output (outbox, dead letters, audit) and every file of the store.
//!
//! Autotask ↔ ConnectWise, ServiceNow (OAuth password grant, so client
//! secret too) ↔ ConnectWise and Jira ↔ Autotask.

use psa_bridge::admin::ROUTES;
use psa_bridge::demo::story::Story;
use psa_bridge::demo::System;
use psa_bridge::demo::{
    wait_for, DemoEnv, DemoOptions, AT_CODE, AT_SECRET, AT_USER, AT_WEBHOOK_SECRET,
    JIRA_WEBHOOK_SECRET, SN_PASSWORD, SN_USER, SN_WEBHOOK_SECRET,
};
use psa_connectwise::sim::ConnectWiseSimOptions;

use crate::common::{cli_with_env, env, text, Bridge, STEP};

const TRACE: &str = "trace";
/// The ServiceNow simulator's OAuth application (`ServiceNowSimOptions`).
const SN_CLIENT_ID: &str = "demo-client";
const SN_CLIENT_SECRET: &str = "demo-client-secret";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Human,
    Json,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
        }
    }

    fn other(self) -> Format {
        match self {
            Format::Human => Format::Json,
            Format::Json => Format::Human,
        }
    }

    fn env(self) -> [(&'static str, &'static str); 2] {
        [("RUST_LOG", TRACE), ("PSA_BRIDGE_LOG_FORMAT", self.name())]
    }

    /// Whether `log` was written at trace level in this format.
    fn traced(self, log: &str) -> bool {
        match self {
            Format::Human => log
                .lines()
                .any(|l| l.contains("TRACE") && !l.starts_with('{')),
            Format::Json => log.lines().any(|l| l.contains("\"level\":\"TRACE\"")),
        }
    }
}

/// Everything looked at, as (where, text).
#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn add(&mut self, what: impl Into<String>, body: impl Into<String>) {
        self.0.push((what.into(), body.into()));
    }

    fn get(&self, what: &str) -> &str {
        &self.0.iter().find(|(w, _)| w == what).unwrap().1
    }

    /// Every GET route of the admin API (from its table), the audit of each
    /// ticket, and the public `/healthz`.
    async fn admin(&mut self, bridge: &Bridge, tickets: &[String], label: &str) {
        for route in ROUTES.iter().filter(|r| r.method == "GET") {
            if route.path.contains("{ticket}") {
                for ticket in tickets {
                    let (connection, id) = ticket.split_once(':').unwrap();
                    let path = route
                        .path
                        .replace("{connection}", connection)
                        .replace("{ticket}", id);
                    self.add(
                        format!("{label} admin {path}"),
                        bridge.admin_get(&path).await,
                    );
                }
            } else {
                // Pairing routes are read for the story's pairing.
                let path = route.path.replace("{name}", "acme");
                let body = bridge.admin_get(&path).await;
                self.add(format!("{label} admin {path}"), body);
            }
        }
        let public = reqwest::get(bridge.url("/healthz")).await.unwrap();
        self.add(
            format!("{label} public /healthz"),
            public.text().await.unwrap(),
        );
    }

    /// The CLI through the running daemon's admin API, at trace in `format`.
    async fn cli(&mut self, config: &str, tickets: &[String], format: Format) {
        let mut commands: Vec<Vec<&str>> = vec![
            vec!["outbox", "list"],
            vec!["outbox", "dead"],
            vec!["audit", "verify"],
        ];
        for ticket in tickets {
            commands.push(vec!["audit", "--ticket", ticket]);
        }
        for args in commands {
            let mut full = args.clone();
            full.extend(["--config", config]);
            let out = cli_with_env(&full, &format.env()).await;
            assert!(out.status.success(), "{full:?}: {}", text(&out));
            self.add(format!("cli {} {args:?}", format.name()), text(&out));
        }
    }

    /// The daemon logs (each checked to be at trace in its format) and every
    /// file of the store.
    fn files(&mut self, env: &DemoEnv, formats: &[Format]) {
        let mut logs: Vec<_> = files(&env.dir)
            .into_iter()
            .filter(|(path, _)| path.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        assert_eq!(logs.len(), formats.len(), "one log per daemon run");
        for ((path, body), format) in logs.into_iter().zip(formats) {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert!(
                format.traced(&body),
                "{name} was written at trace in {format:?}"
            );
            self.add(name, body);
        }
        for (path, body) in files(&env.dir.join("store")) {
            self.add(path.display().to_string(), body);
        }
    }

    /// Fails listing every place a secret (or its URL encoding) appears.
    fn assert_clean(&self, secrets: &[(String, String)]) {
        let encoded = secrets.iter().map(|(name, secret)| {
            (
                format!("{name} (URL-encoded)"),
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            )
        });
        let all: Vec<(String, String)> = secrets
            .iter()
            .cloned()
            .chain(encoded.filter(|(_, e)| !secrets.iter().any(|(_, s)| s == e)))
            .collect();
        let mut leaks = Vec::new();
        for (what, body) in &self.0 {
            for (name, secret) in &all {
                if let Some(at) = body.find(secret.as_str()) {
                    let from = body[..at]
                        .char_indices()
                        .rev()
                        .nth(150)
                        .map_or(0, |(i, _)| i);
                    let to = (at + secret.len() + 100).min(body.len());
                    let to = (to..=body.len())
                        .find(|i| body.is_char_boundary(*i))
                        .unwrap();
                    leaks.push(format!("{name} in {what}: …{}…", &body[from..to]));
                }
            }
        }
        assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    }
}

/// Every file under `dir`, recursively, as (path, lossy text).
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

/// Standard base64 with padding (written out here so the test does not
/// reuse the connector's own encoding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The credentials `system` is configured with in the demo.
fn secrets_of(system: System, env: &DemoEnv) -> Vec<(String, String)> {
    let pairs: Vec<(&str, String)> = match system {
        System::Autotask => vec![
            ("Autotask username", AT_USER.into()),
            ("Autotask secret", AT_SECRET.into()),
            ("Autotask integration code", AT_CODE.into()),
            ("Autotask webhook secret", AT_WEBHOOK_SECRET.into()),
        ],
        System::Connectwise => {
            let cw = ConnectWiseSimOptions::default();
            let basic = base64(
                format!("{}+{}:{}", cw.company_id, cw.public_key, cw.private_key).as_bytes(),
            );
            vec![
                ("ConnectWise public key", cw.public_key),
                ("ConnectWise private key", cw.private_key),
                ("ConnectWise client id", cw.client_id),
                ("ConnectWise basic authorisation", basic),
            ]
        }
        System::Servicenow => vec![
            ("ServiceNow username", SN_USER.into()),
            ("ServiceNow password", SN_PASSWORD.into()),
            ("ServiceNow OAuth client secret", SN_CLIENT_SECRET.into()),
            ("ServiceNow notification secret", SN_WEBHOOK_SECRET.into()),
            (
                "ServiceNow basic authorisation",
                base64(format!("{SN_USER}:{SN_PASSWORD}").as_bytes()),
            ),
            (
                "ServiceNow OAuth client authorisation",
                base64(format!("{SN_CLIENT_ID}:{SN_CLIENT_SECRET}").as_bytes()),
            ),
        ],
        System::Jira => {
            let o = env.jira.options();
            vec![
                ("Jira email", o.email.clone()),
                ("Jira API token", o.api_token.clone()),
                ("Jira webhook secret", JIRA_WEBHOOK_SECRET.into()),
                (
                    "Jira basic authorisation",
                    base64(format!("{}:{}", o.email, o.api_token).as_bytes()),
                ),
            ]
        }
    };
    pairs.into_iter().map(|(n, s)| (n.to_string(), s)).collect()
}

/// The simulator of `system`'s fault controls.
fn control(env: &DemoEnv, system: System) -> std::sync::Arc<psa_connector::sim::SimControl> {
    match system {
        System::Autotask => env.autotask.control(),
        System::Connectwise => env.connectwise.control(),
        System::Servicenow => env.servicenow.control(),
        System::Jira => env.jira.control(),
    }
}

/// Waits until the daemon reports every webhook registration settled.
async fn registered(bridge: &Bridge) {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let (_, health) = bridge.health().await;
        let settled = health["webhooks"].as_object().is_none_or(|w| {
            w.values()
                .all(|c| c["state"] != "retrying" && c["state"] != "registering")
        });
        if settled {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The story of `env`'s pairing and a dead letter carrying a note's text
/// (the MSP refuses the next write with 400), the daemon logging in
/// `first`; then a restart logging in the other format; then the scan.
/// `seen` may already hold what the caller looked at.
async fn story_then_scan(env: &DemoEnv, bridge: Bridge, first: Format, mut seen: Seen) {
    let config = env.config_path.to_str().unwrap().to_string();
    registered(&bridge).await;
    let mut story = Story::new(env, STEP, false);
    story.escalate().await.unwrap();
    story.msp_picks_up().await.unwrap();
    story.tech_replies().await.unwrap();

    control(env, env.pairing.msp).fail_next_writes(&[400]);
    let content = "Replaced the branch router, serial RX-4471";
    story
        .internal()
        .add_note(&story.internal_id, content, true, "Tina Tech");
    wait_for("a dead letter", STEP, || {
        let out = std::process::Command::new(crate::common::BIN)
            .args(["outbox", "dead", "--config", &config])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .contains("DEAD")
            .then_some(())
    })
    .await
    .unwrap();

    let internal = env.pairing.internal.connection();
    let msp = env.pairing.msp.connection();
    let tickets = vec![
        format!("{internal}:{}", story.internal_id),
        format!("{internal}:{}", story.internal_number),
        format!("{msp}:{}", story.msp_id),
        format!("{msp}:{}", story.msp_number),
    ];
    seen.admin(&bridge, &tickets, first.name()).await;
    assert!(
        seen.get(&format!("{} admin /api/v1/outbox", first.name()))
            .contains(content),
        "the dead letter listing carries the note"
    );
    seen.cli(&config, &tickets, first).await;
    assert!(
        seen.get(&format!("cli {} [\"outbox\", \"dead\"]", first.name()))
            .contains("DEAD (400)"),
        "the dead letter is listed"
    );
    let token = bridge.admin_token();
    bridge.stop().await;

    // A restart logging in the other format: start-up, registration,
    // polling and the same API answers and CLI outputs.
    let second = first.other();
    let bridge = Bridge::spawn_with_env(&env.config_path, &second.env()).await;
    registered(&bridge).await;
    seen.admin(&bridge, &tickets, second.name()).await;
    seen.cli(&config, &tickets, second).await;
    bridge.stop().await;

    seen.files(env, &[first, second]);
    assert!(
        seen.0
            .iter()
            .any(|(what, body)| what.contains("store") && body.contains(content)),
        "the store files were read (they hold the note)"
    );

    let mut secrets = secrets_of(env.pairing.internal, env);
    secrets.extend(secrets_of(env.pairing.msp, env));
    secrets.push(("admin token".into(), token));
    seen.assert_clean(&secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_autotask_or_connectwise_secret_in_logs_api_cli_or_store() {
    let (_dir, env) = env(DemoOptions::default()).await;
    // Autotask is down at start-up: zone discovery and registration errors
    // land in the logs and in /healthz.
    env.autotask.control().set_error_rate(1.0);
    let bridge = Bridge::spawn_with_env(&env.config_path, &Format::Human.env()).await;
    let mut seen = Seen::default();
    let deadline = tokio::time::Instant::now() + STEP;
    let health = loop {
        let (_, health) = bridge.health().await;
        if health["webhooks"]["autotask"]["state"] == "retrying" {
            break health;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    seen.add("admin /healthz while Autotask is down", health.to_string());
    env.autotask.control().set_error_rate(0.0);
    assert_eq!(base64(b"Ma"), "TWE=", "the test's own encoder");
    story_then_scan(&env, bridge, Format::Human, seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_servicenow_secret_in_logs_api_cli_or_store() {
    let (_dir, env) = env(DemoOptions {
        internal: System::Servicenow,
        msp: System::Connectwise,
        ..Default::default()
    })
    .await;
    // The OAuth password grant: username, password, client id and secret.
    let original = std::fs::read_to_string(&env.config_path).unwrap();
    let basic = format!("password = \"{SN_PASSWORD}\"\n");
    assert!(original.contains(&basic), "{original}");
    std::fs::write(
        &env.config_path,
        original.replace(
            &basic,
            &format!(
                "{basic}auth = \"oauth_password\"\nclient_id = \"{SN_CLIENT_ID}\"\n\
                 client_secret = \"{SN_CLIENT_SECRET}\"\n"
            ),
        ),
    )
    .unwrap();
    let bridge = Bridge::spawn_with_env(&env.config_path, &Format::Json.env()).await;
    story_then_scan(&env, bridge, Format::Json, Seen::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_jira_secret_in_logs_api_cli_or_store() {
    let (_dir, env) = env(DemoOptions {
        internal: System::Jira,
        msp: System::Autotask,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn_with_env(&env.config_path, &Format::Json.env()).await;
    story_then_scan(&env, bridge, Format::Json, Seen::default()).await;
}

/// The scan itself finds a secret, also URL-encoded, in any text it saw.
#[test]
#[should_panic(expected = "ServiceNow password (URL-encoded) in a log")]
fn the_scan_finds_a_planted_secret() {
    let mut seen = Seen::default();
    seen.add("a log", "GET /api?pw=hunter%2B2 failed");
    seen.assert_clean(&[("ServiceNow password".into(), "hunter+2".into())]);
}
