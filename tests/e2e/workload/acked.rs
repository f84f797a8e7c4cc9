//! Every webhook the daemon acknowledged (answered 200) must have reached
//! its store before the answer left: its change hints are in the audit
//! trail's intake entries, whatever was killed afterwards. While the
//! workload runs, the deliveries each simulator sent are read with the
//! connectors' own webhook checks (promptly: a ServiceNow notification is
//! only valid for 300 s); at the end the daemon's store is opened and the
//! hints looked up.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use psa_bridge::demo::DemoEnv;
use psa_connector::sim::WebhookDelivery;
use psa_connector::{Connector, WebhookRequest};

/// The acknowledged deliveries read so far and the hints they carried.
#[derive(Default)]
pub struct Acked {
    /// Deliveries looked at, per simulator (so each is read once).
    seen: [usize; 4],
    /// Deliveries answered 200, per connection.
    pub deliveries: BTreeMap<String, usize>,
    /// (connection, dedup key) of every hint they carried.
    pub hints: BTreeSet<(String, String)>,
    /// Deliveries the connectors' checks refused after the daemon took them.
    pub unreadable: Vec<String>,
}

/// Reads the acknowledged deliveries with the connectors of `config`.
pub struct Collector {
    connectors: HashMap<String, Arc<dyn Connector>>,
    pub acked: Mutex<Acked>,
}

impl Collector {
    pub fn new(config: &std::path::Path) -> Arc<Self> {
        let loaded = psa_bridge::config::load(config, &|_| None).unwrap();
        let connectors = psa_bridge::connections::build_all(&loaded.config.connections)
            .unwrap()
            .into_iter()
            .map(|(name, c)| (name, c.connector))
            .collect();
        Arc::new(Self {
            connectors,
            acked: Mutex::new(Acked::default()),
        })
    }

    /// Reads what the simulators sent since the last call.
    pub async fn collect(&self, env: &DemoEnv) {
        let all = [
            env.autotask.control().webhook_deliveries(),
            env.connectwise.control().webhook_deliveries(),
            env.servicenow.control().webhook_deliveries(),
            env.jira.control().webhook_deliveries(),
        ];
        for (sim, deliveries) in all.iter().enumerate() {
            let from = self.acked.lock().unwrap().seen[sim];
            for delivery in deliveries.iter().skip(from).filter(|d| d.status == 200) {
                self.read(delivery).await;
            }
            self.acked.lock().unwrap().seen[sim] = deliveries.len();
        }
    }

    async fn read(&self, delivery: &WebhookDelivery) {
        let url = reqwest::Url::parse(&delivery.url).unwrap();
        let connection = url.path().trim_start_matches("/webhooks/").to_string();
        let connector = &self.connectors[&connection];
        let mut headers = HeaderMap::new();
        for (name, value) in &delivery.headers {
            headers.insert(
                HeaderName::try_from(name.as_str()).unwrap(),
                HeaderValue::try_from(value.as_str()).unwrap(),
            );
        }
        let request = WebhookRequest {
            headers,
            query: url.query().map(str::to_string),
            body: delivery.body.clone().into(),
        };
        let result = connector.verify_webhook(&request).await;
        let mut acked = self.acked.lock().unwrap();
        *acked.deliveries.entry(connection.clone()).or_default() += 1;
        match result {
            Ok(hints) => acked
                .hints
                .extend(hints.into_iter().map(|h| (connection.clone(), h.dedup_key))),
            Err(e) => acked.unreadable.push(format!(
                "{connection}: {e}: {}",
                String::from_utf8_lossy(&delivery.body)
            )),
        }
    }

    /// Collects every couple of seconds until the returned handle is aborted.
    pub fn run(self: &Arc<Self>, env: Arc<DemoEnv>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.collect(&env).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    }
}

/// The acknowledged hints missing from the store's intake audit entries
/// (the daemon must be stopped: the store is opened directly).
pub fn missing_from_store(store: &std::path::Path, acked: &Acked) -> Vec<(String, String)> {
    let store = psa_bridge::store::Store::open(store).unwrap();
    let taken: BTreeSet<(String, String)> = store
        .audit_entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "intake")
        .filter_map(|e| {
            let connection = e.tickets.first()?.split(':').next()?.to_string();
            let key = e.detail["dedup_key"].as_str()?.to_string();
            Some((connection, key))
        })
        .collect();
    acked.hints.difference(&taken).cloned().collect()
}
