//! The systems the demo can play and the pairings it supports: which
//! mapping and story script each pairing uses, and the connection settings
//! that point the daemon at each simulator.

use psa_connectwise::sim::ConnectWiseSimOptions;

use super::scripts;
use super::story::{self, Script};
use super::{
    DemoEnv, DemoError, AT_CODE, AT_SECRET, AT_USER, AT_WEBHOOK_SECRET, JIRA_WEBHOOK_SECRET,
    SN_PASSWORD, SN_USER, SN_WEBHOOK_SECRET,
};

/// A ticketing system the demo can run a simulator of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum System {
    Autotask,
    Connectwise,
    Servicenow,
    Jira,
}

impl System {
    /// The connection name (and vendor) of this system in the demo config.
    pub fn connection(self) -> &'static str {
        match self {
            System::Autotask => "autotask",
            System::Connectwise => "connectwise",
            System::Servicenow => "servicenow",
            System::Jira => "jira",
        }
    }

    /// The `[connections.NAME.VENDOR]` settings pointing at `env`'s simulator.
    pub(super) fn settings(self, env: &DemoEnv) -> String {
        match self {
            System::Autotask => format!(
                "zone_discovery_url = \"{}\"\nusername = \"{AT_USER}\"\nsecret = \"{AT_SECRET}\"\n\
                 integration_code = \"{AT_CODE}\"\nwebhook_secret = \"{AT_WEBHOOK_SECRET}\"\n",
                env.autotask.zone_discovery_url()
            ),
            System::Connectwise => {
                let cw = ConnectWiseSimOptions::default();
                format!(
                    "site_url = \"{}\"\ncompany_id = \"{}\"\npublic_key = \"{}\"\nprivate_key = \"{}\"\n\
                     client_id = \"{}\"\ncallback_key_hosts = [\"{}\"]\n",
                    env.connectwise.site_url(),
                    cw.company_id,
                    cw.public_key,
                    cw.private_key,
                    cw.client_id,
                    env.connectwise.addr()
                )
            }
            System::Servicenow => format!(
                "instance_url = \"{}\"\nusername = \"{SN_USER}\"\npassword = \"{SN_PASSWORD}\"\n\
                 webhook_secret = \"{SN_WEBHOOK_SECRET}\"\n",
                env.servicenow.instance_url()
            ),
            System::Jira => {
                let o = env.jira.options();
                format!(
                    "site_url = \"{}\"\nemail = \"{}\"\napi_token = \"{}\"\nproject = \"HELP\"\n\
                     webhook_secret = \"{JIRA_WEBHOOK_SECRET}\"\n",
                    env.jira.base_url(),
                    o.email,
                    o.api_token
                )
            }
        }
    }
}

/// One pairing the demo can play: the internal system, the MSP's, the
/// shipped mapping between them and the story's labels and write counts.
#[derive(Debug)]
pub struct Pairing {
    pub internal: System,
    pub msp: System,
    pub mapping: &'static str,
    pub script: &'static Script,
}

/// A pairing whose mapping is one of the shipped files.
const fn pair(
    internal: System,
    msp: System,
    mapping: &'static str,
    script: &'static Script,
) -> Pairing {
    Pairing {
        internal,
        msp,
        mapping,
        script,
    }
}

/// Every pairing the demo supports: each ordered pair of distinct systems.
/// The first three are the originals (and the defaults of `--msp`).
pub const PAIRINGS: [Pairing; 12] = {
    use System::{Autotask as At, Connectwise as Cw, Jira, Servicenow as Sn};
    [
        pair(
            At,
            Cw,
            super::EXAMPLE_MAPPING,
            &story::AUTOTASK_TO_CONNECTWISE,
        ),
        pair(
            Sn,
            Cw,
            super::SERVICENOW_MAPPING,
            &story::SERVICENOW_TO_CONNECTWISE,
        ),
        pair(Jira, At, super::JIRA_MAPPING, &story::JIRA_TO_AUTOTASK),
        pair(
            At,
            Sn,
            include_str!("../../mappings/autotask-to-servicenow.toml"),
            &scripts::AUTOTASK_TO_SERVICENOW,
        ),
        pair(
            At,
            Jira,
            include_str!("../../mappings/autotask-to-jira.toml"),
            &scripts::AUTOTASK_TO_JIRA,
        ),
        pair(
            Cw,
            At,
            include_str!("../../mappings/connectwise-to-autotask.toml"),
            &scripts::CONNECTWISE_TO_AUTOTASK,
        ),
        pair(
            Cw,
            Sn,
            include_str!("../../mappings/connectwise-to-servicenow.toml"),
            &scripts::CONNECTWISE_TO_SERVICENOW,
        ),
        pair(
            Cw,
            Jira,
            include_str!("../../mappings/connectwise-to-jira.toml"),
            &scripts::CONNECTWISE_TO_JIRA,
        ),
        pair(
            Sn,
            At,
            include_str!("../../mappings/servicenow-to-autotask.toml"),
            &scripts::SERVICENOW_TO_AUTOTASK,
        ),
        pair(
            Sn,
            Jira,
            include_str!("../../mappings/servicenow-to-jira.toml"),
            &scripts::SERVICENOW_TO_JIRA,
        ),
        pair(
            Jira,
            Cw,
            include_str!("../../mappings/jira-to-connectwise.toml"),
            &scripts::JIRA_TO_CONNECTWISE,
        ),
        pair(
            Jira,
            Sn,
            include_str!("../../mappings/jira-to-servicenow.toml"),
            &scripts::JIRA_TO_SERVICENOW,
        ),
    ]
};

/// The pairing of `internal` and `msp`; refused when both are the same
/// system (the error lists the supported pairs).
pub fn pairing(internal: System, msp: System) -> Result<&'static Pairing, DemoError> {
    PAIRINGS
        .iter()
        .find(|p| p.internal == internal && p.msp == msp)
        .ok_or_else(|| DemoError::Unsupported {
            asked: format!(
                "--internal {} --msp {} (the internal team and the MSP run different systems)",
                internal.connection(),
                msp.connection()
            ),
            supported: PAIRINGS
                .iter()
                .map(|p| {
                    format!(
                        "--internal {} --msp {}",
                        p.internal.connection(),
                        p.msp.connection()
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ordered_pair_of_distinct_systems_is_played() {
        let systems = [
            System::Autotask,
            System::Connectwise,
            System::Servicenow,
            System::Jira,
        ];
        for internal in systems {
            for msp in systems {
                let found = pairing(internal, msp);
                if internal == msp {
                    let error = found.unwrap_err().to_string();
                    let asked = internal.connection();
                    assert!(
                        error.contains(&format!("--internal {asked} --msp {asked}"))
                            && error.contains("different systems")
                            && error.contains("--internal servicenow --msp connectwise"),
                        "{error}"
                    );
                } else {
                    let p = found.unwrap();
                    assert_eq!((p.internal, p.msp), (internal, msp));
                }
            }
        }
        assert_eq!(PAIRINGS.len(), 12);
    }
}
