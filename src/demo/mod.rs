//! The demo environment: both vendor simulators on loopback, a configuration
//! pointing the daemon at them, and the escalation story ([`story`]) that the
//! `demo` command narrates and the end-to-end tests replay.

pub mod desk;
pub mod desk_server;
#[cfg(test)]
mod mapping_text;
pub mod profiles;
pub mod scripts;
pub mod shared;
pub mod story;
mod systems;

pub use systems::{pairing, Pairing, System, PAIRINGS};

use std::path::{Path, PathBuf};
use std::time::Duration;

use psa_autotask::sim::{AutotaskSim, AutotaskSimOptions};
use psa_connectwise::sim::{ConnectWiseSim, ConnectWiseSimOptions};
use psa_jira::sim::{JiraSim, JiraSimOptions};
use psa_servicenow::sim::{ServiceNowSim, ServiceNowSimOptions};
use tokio::net::TcpListener;

use desk::{AutotaskDesk, ConnectWiseDesk, Desk, JiraDesk, ServiceNowDesk};
use story::Script;

/// The example mapping, shipped in the binary so the demo needs no files.
pub const EXAMPLE_MAPPING: &str = include_str!("../../mappings/autotask-to-connectwise.toml");
/// The mapping of the ServiceNow demo.
pub const SERVICENOW_MAPPING: &str = include_str!("../../mappings/servicenow-to-connectwise.toml");
/// The mapping of the Jira demo (Autotask as the MSP).
pub const JIRA_MAPPING: &str = include_str!("../../mappings/jira-to-autotask.toml");

/// Autotask API user the bridge uses in the demo.
pub const AT_USER: &str = "bridge@example.com";
pub const AT_SECRET: &str = "demo-secret";
pub const AT_CODE: &str = "DEMOCODE";
pub const AT_WEBHOOK_SECRET: &str = "demo-webhook-secret";

/// ServiceNow API user the bridge uses in the demo (the simulator's default).
pub const SN_USER: &str = "bridge.integration";
pub const SN_PASSWORD: &str = "demo-password";
/// Secret of the demo instance's notification business rule.
pub const SN_WEBHOOK_SECRET: &str = "demo-notify-secret";
/// Secret the bridge registers its Jira admin webhook with in the demo.
pub const JIRA_WEBHOOK_SECRET: &str = "demo-jira-webhook-secret";

/// A demo failure: a simulator did not start or the story did not converge.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("simulator: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out after {secs} s waiting for: {what}")]
    Timeout { what: String, secs: u64 },
    #[error("the demo has no pairing {asked}; it plays: {supported}")]
    Unsupported { asked: String, supported: String },
}

/// Knobs of the generated configuration.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub webhooks: bool,
    /// Poll the vendors too (on in real deployments; off to prove webhooks alone suffice).
    pub polling: bool,
    pub poll_interval_secs: u64,
    /// `requests_per_second, burst` for both connections (vendor defaults when `None`).
    pub limits: Option<(u32, u32)>,
    /// Replaces the pairing's shipped mapping.
    pub mapping: Option<String>,
    /// The internal team's system.
    pub internal: System,
    /// The MSP's system.
    pub msp: System,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            webhooks: true,
            polling: true,
            poll_interval_secs: 2,
            limits: None,
            mapping: None,
            internal: System::Autotask,
            msp: System::Connectwise,
        }
    }
}

/// The simulators and the files the daemon needs. Every simulator runs;
/// the configuration pairs the chosen internal system with the chosen MSP
/// system.
pub struct DemoEnv {
    pub autotask: AutotaskSim,
    pub connectwise: ConnectWiseSim,
    pub servicenow: ServiceNowSim,
    pub jira: JiraSim,
    /// The pairing the configuration sets up.
    pub pairing: &'static Pairing,
    pub dir: PathBuf,
    pub config_path: PathBuf,
}

impl DemoEnv {
    /// Starts both simulators on `127.0.0.1:0` and writes `psa-bridge.toml` into `dir`.
    pub async fn start(dir: &Path, options: &DemoOptions) -> Result<Self, DemoError> {
        let autotask = AutotaskSim::start(
            TcpListener::bind("127.0.0.1:0").await?,
            AutotaskSimOptions::default(),
        )
        .await?;
        let connectwise = ConnectWiseSim::start(
            TcpListener::bind("127.0.0.1:0").await?,
            ConnectWiseSimOptions::default(),
        )
        .await?;
        let servicenow = ServiceNowSim::start(
            TcpListener::bind("127.0.0.1:0").await?,
            ServiceNowSimOptions::default(),
        )
        .await?;
        let jira = JiraSim::start(
            TcpListener::bind("127.0.0.1:0").await?,
            JiraSimOptions::default(),
        )
        .await?;
        let pairing = pairing(options.internal, options.msp)?;
        std::fs::create_dir_all(dir)?;
        let mapping = options
            .mapping
            .clone()
            .unwrap_or_else(|| pairing.mapping.to_string());
        std::fs::write(dir.join("mapping.toml"), mapping)?;
        let env = Self {
            autotask,
            connectwise,
            servicenow,
            jira,
            pairing,
            dir: dir.to_path_buf(),
            config_path: dir.join("psa-bridge.toml"),
        };
        std::fs::write(&env.config_path, env.config_text(options))?;
        Ok(env)
    }

    /// Points the ServiceNow instance's notification business rule at a
    /// daemon listening on `addr` (ServiceNow has no registration API: an
    /// instance admin sets this up once).
    pub fn connect_servicenow_notifications(&self, addr: std::net::SocketAddr) {
        let url = format!("http://{addr}/webhooks/{}", System::Servicenow.connection());
        self.servicenow
            .set_notifications(Some((&url, SN_WEBHOOK_SECRET)));
    }
}

impl DemoEnv {
    /// The internal and MSP desks of the demo pairing, and its story's script.
    pub fn desks(&self) -> (Box<dyn Desk + '_>, Box<dyn Desk + '_>, &'static Script) {
        (
            self.desk(self.pairing.internal),
            self.desk(self.pairing.msp),
            self.pairing.script,
        )
    }

    /// Where `system`'s simulator listens.
    pub fn addr(&self, system: System) -> std::net::SocketAddr {
        match system {
            System::Autotask => self.autotask.addr(),
            System::Connectwise => self.connectwise.addr(),
            System::Servicenow => self.servicenow.addr(),
            System::Jira => self.jira.addr(),
        }
    }

    /// A person's view of one system.
    pub fn desk(&self, system: System) -> Box<dyn Desk + '_> {
        match system {
            System::Autotask => Box::new(AutotaskDesk(&self.autotask)),
            System::Connectwise => Box::new(ConnectWiseDesk(&self.connectwise)),
            System::Servicenow => Box::new(ServiceNowDesk(&self.servicenow)),
            System::Jira => Box::new(JiraDesk(&self.jira)),
        }
    }

    /// Successful ticket and note writes by the bridge's API users to
    /// (the internal system, the MSP's); webhook registration is not counted.
    pub fn ticket_writes(&self) -> (usize, usize) {
        let (internal, msp, _) = self.desks();
        (internal.bridge_writes(), msp.bridge_writes())
    }

    /// Waits until every webhook or notification the simulators started has been answered.
    pub async fn wait_webhooks_idle(&self) {
        self.autotask.wait_webhooks_idle().await;
        self.connectwise.wait_callbacks_idle().await;
        self.servicenow.wait_notifications_idle().await;
        self.jira.wait_webhooks_idle().await;
    }

    /// A configuration for the daemon: the internal system's connection,
    /// the MSP's, and one pairing between them.
    pub fn config_text(&self, options: &DemoOptions) -> String {
        let (internal, msp) = (self.pairing.internal, self.pairing.msp);
        format!(
            "[daemon]\nstore_path = \"store\"\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
             register_webhooks = {}\ntick_ms = 50\n\n{}{}\
             [[pairings]]\nname = \"acme\"\na = \"{}\"\nb = \"{}\"\nmapping = \"mapping.toml\"\n",
            options.webhooks,
            connection_block(internal.connection(), &internal.settings(self), options),
            connection_block(msp.connection(), &msp.settings(self), options),
            internal.connection(),
            msp.connection(),
        )
    }
}

impl DemoEnv {
    /// Writes a configuration with several pairings (each a `(name,
    /// pairing)`, their systems all different) into the demo directory: one
    /// connection per system, one `mapping-NAME.toml` per pairing with its
    /// shipped mapping. The demo's own `psa-bridge.toml` is replaced.
    pub fn write_config_for(
        &self,
        pairings: &[(&str, &'static Pairing)],
        options: &DemoOptions,
    ) -> std::io::Result<()> {
        let mut systems: Vec<System> = Vec::new();
        let mut pairing_blocks = String::new();
        for (name, pairing) in pairings {
            std::fs::write(
                self.dir.join(format!("mapping-{name}.toml")),
                pairing.mapping,
            )?;
            pairing_blocks.push_str(&format!(
                "[[pairings]]\nname = \"{name}\"\na = \"{}\"\nb = \"{}\"\nmapping = \"mapping-{name}.toml\"\n\n",
                pairing.internal.connection(),
                pairing.msp.connection(),
            ));
            for system in [pairing.internal, pairing.msp] {
                if !systems.contains(&system) {
                    systems.push(system);
                }
            }
        }
        let connections: String = systems
            .iter()
            .map(|s| connection_block(s.connection(), &s.settings(self), options))
            .collect();
        let text = format!(
            "[daemon]\nstore_path = \"store\"\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
             register_webhooks = {}\ntick_ms = 50\n\n{connections}{pairing_blocks}",
            options.webhooks,
        );
        std::fs::write(&self.config_path, text)
    }
}

/// `[connections.NAME]` for vendor NAME with its settings table.
fn connection_block(vendor: &str, settings: &str, options: &DemoOptions) -> String {
    let limits = options
        .limits
        .map(|(rps, burst)| {
            format!(
                "limits = {{ requests_per_second = {rps}, burst = {burst}, max_concurrent = 3 }}\n"
            )
        })
        .unwrap_or_default();
    format!(
        "[connections.{vendor}]\nvendor = \"{vendor}\"\nwebhooks = {}\npolling = {}\n\
         poll_interval_secs = {}\npoll_overlap_secs = 30\ntimeout_secs = 10\n{limits}\n\
         [connections.{vendor}.{vendor}]\n{settings}\n",
        options.webhooks, options.polling, options.poll_interval_secs,
    )
}

/// Polls `check` until it yields a value or `timeout` passes.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, DemoError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DemoError::Timeout {
                what: what.to_string(),
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
