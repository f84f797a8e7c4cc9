//! `simulate`: one vendor simulator standalone, with the credentials to use.

use std::net::SocketAddr;
use std::process::ExitCode;

use psa_autotask::sim::{AutotaskSim, AutotaskSimOptions};
use psa_bridge::demo::{AT_CODE, AT_SECRET, AT_USER};
use psa_connectwise::sim::{ConnectWiseSim, ConnectWiseSimOptions};

use super::SimVendor;

pub async fn simulate(vendor: SimVendor, listen: SocketAddr) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    match vendor {
        SimVendor::Autotask => {
            let sim = AutotaskSim::start(listener, AutotaskSimOptions::default()).await?;
            println!("Autotask simulator on http://{}", sim.addr());
            println!("  zone_discovery_url = \"{}\"", sim.zone_discovery_url());
            println!("  username = \"{AT_USER}\"  secret = \"{AT_SECRET}\"  integration_code = \"{AT_CODE}\"");
            tokio::signal::ctrl_c().await?;
            sim.shutdown();
        }
        SimVendor::Connectwise => {
            let sim = ConnectWiseSim::start(listener, ConnectWiseSimOptions::default()).await?;
            let o = ConnectWiseSimOptions::default();
            println!("ConnectWise simulator on http://{}", sim.addr());
            println!("  site_url = \"{}\"", sim.site_url());
            println!("  company_id = \"{}\"  public_key = \"{}\"  private_key = \"{}\"  client_id = \"{}\"", o.company_id, o.public_key, o.private_key, o.client_id);
            println!("  callback_key_hosts = [\"{}\"]", sim.addr());
            tokio::signal::ctrl_c().await?;
            sim.shutdown();
        }
    }
    Ok(ExitCode::SUCCESS)
}
