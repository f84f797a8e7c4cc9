//! `simulate`: one vendor simulator standalone, with the credentials to use
//! and optional fault knobs.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use psa_autotask::sim::{AutotaskSim, AutotaskSimOptions};
use psa_bridge::demo::{
    AT_CODE, AT_SECRET, AT_USER, AT_WEBHOOK_SECRET, SN_PASSWORD, SN_USER, SN_WEBHOOK_SECRET,
};
use psa_connector::sim::SimControl;
use psa_connectwise::sim::{ConnectWiseSim, ConnectWiseSimOptions};
use psa_jira::sim::{JiraSim, JiraSimOptions};
use psa_servicenow::sim::{ServiceNowSim, ServiceNowSimOptions};

use super::SimVendor;

/// Fault knobs of a standalone simulator.
#[derive(clap::Args)]
pub struct Faults {
    /// Answer 429 with Retry-After above this many requests per second.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Retry-After (seconds) sent with those 429s.
    #[arg(long, default_value_t = 5)]
    retry_after: u64,
    /// Fraction of requests (0 to 1) answered 502, 503 or 504.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Fraction of requests (0 to 1) whose connection is reset before
    /// anything is applied.
    #[arg(long, default_value_t = 0.0)]
    reset_rate: f64,
    /// Fraction of requests (0 to 1) carried out but answered only after
    /// 60 seconds, so the caller times out not knowing it happened.
    #[arg(long, default_value_t = 0.0)]
    timeout_rate: f64,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction of successful writes (0 to 1) that are applied and then
    /// answered 503 or with a dropped connection (the caller cannot tell
    /// whether they happened).
    #[arg(long, default_value_t = 0.0)]
    ambiguous_rate: f64,
    /// ServiceNow only: send signed change notifications to this URL, as
    /// the business rule in docs/vendors/servicenow.md does (for example
    /// http://127.0.0.1:8080/webhooks/NAME).
    #[arg(long)]
    notify_url: Option<String>,
}

impl Faults {
    fn apply(&self, control: &Arc<SimControl>) {
        control.set_rate_limit(self.rate_limit, self.retry_after);
        control.set_error_rate(self.error_rate);
        control.set_latency(Duration::from_millis(self.latency_ms));
        control.set_ambiguous_rate(self.ambiguous_rate);
        control.set_reset_rate(self.reset_rate);
        control.set_timeout_rate(self.timeout_rate);
    }
}

pub async fn simulate(
    vendor: SimVendor,
    listen: SocketAddr,
    faults: Faults,
) -> anyhow::Result<ExitCode> {
    for (flag, rate) in [
        ("--error-rate", faults.error_rate),
        ("--ambiguous-rate", faults.ambiguous_rate),
        ("--reset-rate", faults.reset_rate),
        ("--timeout-rate", faults.timeout_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            anyhow::bail!("{flag} must be between 0 and 1, got {rate}");
        }
    }
    if faults.notify_url.is_some() && !matches!(vendor, SimVendor::Servicenow) {
        anyhow::bail!("--notify-url is for the ServiceNow simulator only (the others register webhooks through their API)");
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    match vendor {
        SimVendor::Autotask => {
            let sim = AutotaskSim::start(listener, AutotaskSimOptions::default()).await?;
            faults.apply(&sim.control());
            println!(
                "Autotask simulator on http://{}  (Ctrl-C stops it)",
                sim.addr()
            );
            println!("[connections.NAME.autotask]");
            println!("zone_discovery_url = \"{}\"", sim.zone_discovery_url());
            println!("username = \"{AT_USER}\"\nsecret = \"{AT_SECRET}\"\nintegration_code = \"{AT_CODE}\"\nwebhook_secret = \"{AT_WEBHOOK_SECRET}\"");
            tokio::signal::ctrl_c().await?;
            sim.shutdown();
        }
        SimVendor::Connectwise => {
            let sim = ConnectWiseSim::start(listener, ConnectWiseSimOptions::default()).await?;
            faults.apply(&sim.control());
            let o = ConnectWiseSimOptions::default();
            println!(
                "ConnectWise simulator on http://{}  (Ctrl-C stops it)",
                sim.addr()
            );
            println!("[connections.NAME.connectwise]");
            println!("site_url = \"{}\"", sim.site_url());
            println!(
                "company_id = \"{}\"\npublic_key = \"{}\"\nprivate_key = \"{}\"\nclient_id = \"{}\"",
                o.company_id, o.public_key, o.private_key, o.client_id
            );
            println!("callback_key_hosts = [\"{}\"]", sim.addr());
            tokio::signal::ctrl_c().await?;
            sim.shutdown();
        }
        SimVendor::Jira => {
            let sim = JiraSim::start(listener, JiraSimOptions::default()).await?;
            faults.apply(&sim.control());
            let o = sim.options().clone();
            println!("Jira simulator on http://{}  (Ctrl-C stops it)", sim.addr());
            println!("[connections.NAME.jira]");
            println!("site_url = \"{}\"", sim.base_url());
            println!(
                "email = \"{}\"\napi_token = \"{}\"\nproject = \"HELP\"\nwebhook_secret = \"choose-a-secret\"",
                o.email, o.api_token
            );
            println!(
                "# projects: HELP (service desk: public and internal comments), DEV (software)"
            );
            tokio::signal::ctrl_c().await?;
            sim.shutdown();
        }
        SimVendor::Servicenow => {
            let sim = ServiceNowSim::start(listener, ServiceNowSimOptions::default()).await?;
            faults.apply(&sim.control());
            if let Some(url) = &faults.notify_url {
                sim.set_notifications(Some((url, SN_WEBHOOK_SECRET)));
            }
            println!(
                "ServiceNow simulator on http://{}  (Ctrl-C stops it)",
                sim.addr()
            );
            println!("[connections.NAME.servicenow]");
            println!("instance_url = \"{}\"", sim.instance_url());
            println!("username = \"{SN_USER}\"\npassword = \"{SN_PASSWORD}\"\nwebhook_secret = \"{SN_WEBHOOK_SECRET}\"");
            match &faults.notify_url {
                Some(url) => println!("# signed notifications go to {url}"),
                None => println!("# no notifications: pass --notify-url to send them"),
            }
            tokio::signal::ctrl_c().await?;
            sim.shutdown();
        }
    }
    Ok(ExitCode::SUCCESS)
}
