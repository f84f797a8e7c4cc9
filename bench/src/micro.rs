//! `micro`: the bridge's hot steps one at a time, on real data from the
//! simulators: the mapping and diff of one ticket (the engine's `observe`
//! of both sides under the shipped Autotask ↔ ConnectWise mapping,
//! compared with a shadow in which one field differs), the signature
//! check of one genuine webhook per vendor (each connector's own
//! `verify_webhook`), and one outbox transaction (one operation put in a
//! sled transaction, then the store's flush, as the planner commits).
//!
//! [`Fixture`] is shared by `cargo bench -p psa-bridge-bench` (criterion,
//! `benches/micro.rs`) and by the `micro` scenario of the harness, which
//! times the same calls with a plain loop to print its table and JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use psa_bridge::demo::{self, DemoEnv, System};
use psa_bridge::engine::observe;
use psa_bridge::store::{Action, OutboxOp, Side, SideState, Store};
use psa_connector::{Connector, NewComment, Ticket, Visibility, WebhookRequest};

use crate::report::{Report, Size};

/// The vendors whose webhook check is measured, in report order.
pub const VENDORS: [&str; 4] = ["autotask", "connectwise", "servicenow", "jira"];

/// Simulators, connectors, a mapping, two tickets and a store.
pub struct Fixture {
    _dir: tempfile::TempDir,
    _env: DemoEnv,
    mapping: psa_bridge::config::mapping::Mapping,
    tickets: (Ticket, Ticket),
    shadow: (SideState, SideState),
    /// A connector and a genuine signed webhook per vendor, as [`VENDORS`].
    hooks: Vec<(Arc<dyn Connector>, WebhookRequest)>,
    store: Store,
}

impl Fixture {
    pub async fn start() -> Result<Fixture> {
        let dir = tempfile::tempdir()?;
        let env = DemoEnv::start(dir.path(), &demo::DemoOptions::default()).await?;
        let pairings = [
            (
                "at-cw",
                demo::pairing(System::Autotask, System::Connectwise)?,
            ),
            (
                "sn-cw",
                demo::pairing(System::Servicenow, System::Connectwise)?,
            ),
            ("jira-at", demo::pairing(System::Jira, System::Autotask)?),
        ];
        env.write_config_for(&pairings, &demo::DemoOptions::default())?;
        let loaded = psa_bridge::config::load(&env.config_path, &|v| std::env::var(v).ok())
            .map_err(|e| anyhow!("load the micro config: {e}"))?;
        let connections = psa_bridge::connections::build_all(&loaded.config.connections)?;
        let connector = |name: &str| -> Result<Arc<dyn Connector>> {
            connections
                .get(name)
                .map(|c| c.connector.clone())
                .ok_or_else(|| anyhow!("no connection {name}"))
        };
        let mapping = loaded
            .pairings
            .into_iter()
            .find(|p| p.name == "at-cw")
            .ok_or_else(|| anyhow!("no at-cw pairing"))?
            .mapping;

        let at = env.autotask.user_create_ticket(
            "Printer on floor 2 offline",
            "The printer shows error 41.",
            "Level I Support",
            "High",
        );
        let cw = env.connectwise.user_create_ticket(
            "Printer on floor 2 offline",
            "Co-Managed",
            "ACME",
            "Priority 2 - Quick Response",
        );
        let incident = env
            .servicenow
            .user_create_incident("Printer on floor 2 offline", "Error 41.");
        let issue = env
            .jira
            .user_create_issue("HELP", "Printer on floor 2 offline", "Error 41.", "High")
            .ok_or_else(|| anyhow!("the Jira simulator refused the issue"))?;

        let (at_connector, cw_connector) = (connector("autotask")?, connector("connectwise")?);
        at_connector.discover().await?;
        cw_connector.discover().await?;
        let tickets = (
            at_connector.get_ticket(&at.id.to_string()).await?,
            cw_connector.get_ticket(&cw.id.to_string()).await?,
        );
        let mut shadow = (
            observe(&mapping, Side::A, &tickets.0),
            observe(&mapping, Side::B, &tickets.1),
        );
        shadow.0.values.insert("priority".into(), "Medium".into());

        let at_body = br#"{"Action":"Update","Guid":"5a0c1b7e-9d1e-4d55-a0b4-2f1c3d4e5f60","EntityType":"Ticket","Id":1001,"Fields":{"Priority":"2"},"EventTime":"2026-11-25T14:57:50Z","SequenceNumber":7,"PersonID":29682885}"#.to_vec();
        let at_signature = psa_autotask::hooks::sign(demo::AT_WEBHOOK_SECRET, &at_body);
        let (cw_body, cw_signature) = env.connectwise.signed_callback(cw.id, "updated");
        let (sn_headers, sn_body) = env
            .servicenow
            .signed_notice(
                "incident",
                &incident.sys_id,
                demo::SN_WEBHOOK_SECRET,
                chrono::Utc::now(),
            )
            .ok_or_else(|| anyhow!("no ServiceNow notice"))?;
        let (jira_body, jira_headers) = env
            .jira
            .signed_webhook(&issue.key, demo::JIRA_WEBHOOK_SECRET);
        let hooks = vec![
            (
                at_connector,
                request(&[("x-hook-signature".into(), at_signature)], None, at_body)?,
            ),
            (
                cw_connector,
                request(
                    &[("x-content-signature".into(), cw_signature)],
                    Some(format!("id={}", cw.id)),
                    cw_body,
                )?,
            ),
            (
                connector("servicenow")?,
                request(&sn_headers, None, sn_body)?,
            ),
            (connector("jira")?, request(&jira_headers, None, jira_body)?),
        ];
        let store = Store::open(&dir.path().join("micro-store"))?;
        let fixture = Fixture {
            _dir: dir,
            _env: env,
            mapping,
            tickets,
            shadow,
            hooks,
            store,
        };
        // The first check may fetch a signing key (ConnectWise); later ones use the cache.
        for vendor in 0..VENDORS.len() {
            fixture.verify(vendor).await?;
        }
        Ok(fixture)
    }

    /// Maps both tickets and counts the fields that differ from the shadow.
    pub fn diff_map(&self) -> usize {
        let a = observe(&self.mapping, Side::A, &self.tickets.0);
        let b = observe(&self.mapping, Side::B, &self.tickets.1);
        let changed = |now: &SideState, base: &SideState| {
            now.values
                .iter()
                .filter(|(k, v)| base.values.get(*k) != Some(*v))
                .count()
        };
        changed(&a, &self.shadow.0) + changed(&b, &self.shadow.1)
    }

    /// Checks vendor `index`'s (of [`VENDORS`]) signed webhook.
    pub async fn verify(&self, index: usize) -> Result<usize> {
        let (connector, request) = &self.hooks[index];
        let hints = connector
            .verify_webhook(request)
            .await
            .map_err(|e| anyhow!("{} webhook refused: {e}", VENDORS[index]))?;
        Ok(hints.len())
    }

    /// One outbox operation written in one transaction, then flushed.
    pub async fn outbox_transaction(&self) -> Result<()> {
        let id = self.store.next_id()?;
        let now = chrono::Utc::now();
        let op = OutboxOp {
            id,
            link: 1,
            pairing: "at-cw".into(),
            target: Side::B,
            connection: "connectwise".into(),
            action: Action::AddComment {
                comment: NewComment {
                    body: "The printer works again.".into(),
                    visibility: Visibility::Public,
                    marker: format!("at-cw:a:1001:a:{id}"),
                    resolution: false,
                },
                source: Some((Side::A, id.to_string())),
            },
            fields: Vec::new(),
            planned_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            dead: None,
            first_failed_at: None,
            changed_at: Some(now),
            attempt_started_at: None,
            planned_in_session: None,
        };
        self.store.transact(|tx| tx.put_op(&op))?;
        self.store.flush().await?;
        Ok(())
    }
}

/// A webhook request from header pairs, query and body.
fn request(
    headers: &[(String, String)],
    query: Option<String>,
    body: Vec<u8>,
) -> Result<WebhookRequest> {
    let mut map = HeaderMap::new();
    map.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        map.insert(
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(value)?,
        );
    }
    Ok(WebhookRequest {
        headers: map,
        query,
        body: Bytes::from(body),
    })
}

/// The `micro` scenario: each step timed over `budget` (median of batches).
pub async fn run(size: Size) -> Result<Report> {
    let budget = Duration::from_millis(size.pick(3_000, 1_000, 100));
    let fixture = Fixture::start().await?;
    let mut report = Report::new("micro", size);
    report.note(format!(
        "each step repeated for {} ms, median of 10 batches; `cargo bench -p psa-bridge-bench` \
         runs the same steps under criterion",
        budget.as_millis()
    ));
    let diff = time_sync(budget, || {
        std::hint::black_box(fixture.diff_map());
    });
    report.figure("diff_map_ns", diff);
    for (index, vendor) in VENDORS.iter().enumerate() {
        let ns = time_async(budget, || async {
            std::hint::black_box(fixture.verify(index).await.map(|_| ()))
        })
        .await?;
        report.figure(verify_key(vendor), ns);
    }
    let txn = time_async(budget, || fixture.outbox_transaction()).await?;
    report.figure("outbox_txn_us", txn / 1000.0);
    Ok(report)
}

fn verify_key(vendor: &str) -> &'static str {
    match vendor {
        "autotask" => "verify_autotask_ns",
        "connectwise" => "verify_connectwise_ns",
        "servicenow" => "verify_servicenow_ns",
        _ => "verify_jira_ns",
    }
}

/// Median nanoseconds per call over 10 batches filling `budget`.
fn time_sync(budget: Duration, mut step: impl FnMut()) -> f64 {
    let mut batches = Vec::new();
    for _ in 0..10 {
        let (begin, mut n) = (Instant::now(), 0u64);
        while begin.elapsed() < budget / 10 || n == 0 {
            step();
            n += 1;
        }
        batches.push(begin.elapsed().as_nanos() as f64 / n as f64);
    }
    median(batches)
}

/// [`time_sync`] for an async step that may fail.
async fn time_async<F, Fut>(budget: Duration, mut step: F) -> Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut batches = Vec::new();
    for _ in 0..10 {
        let (begin, mut n) = (Instant::now(), 0u64);
        while begin.elapsed() < budget / 10 || n == 0 {
            step().await?;
            n += 1;
        }
        batches.push(begin.elapsed().as_nanos() as f64 / n as f64);
    }
    Ok(median(batches))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
