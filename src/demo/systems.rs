//! The systems the demo can play and the pairings it supports: which
//! mapping and story script each pairing uses, and the connection settings
//! that point the daemon at each simulator.

use psa_connectwise::sim::ConnectWiseSimOptions;

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

/// Every pairing the demo supports.
pub const PAIRINGS: [Pairing; 3] = [
    Pairing {
        internal: System::Autotask,
        msp: System::Connectwise,
        mapping: super::EXAMPLE_MAPPING,
        script: &story::AUTOTASK_TO_CONNECTWISE,
    },
    Pairing {
        internal: System::Servicenow,
        msp: System::Connectwise,
        mapping: super::SERVICENOW_MAPPING,
        script: &story::SERVICENOW_TO_CONNECTWISE,
    },
    Pairing {
        internal: System::Jira,
        msp: System::Autotask,
        mapping: super::JIRA_MAPPING,
        script: &story::JIRA_TO_AUTOTASK,
    },
];

/// The pairing of `internal` and `msp`, or an error listing the supported ones.
pub fn pairing(internal: System, msp: System) -> Result<&'static Pairing, DemoError> {
    PAIRINGS
        .iter()
        .find(|p| p.internal == internal && p.msp == msp)
        .ok_or_else(|| DemoError::Unsupported {
            asked: format!(
                "--internal {} --msp {}",
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
    fn unsupported_pairs_list_the_supported_ones() {
        assert!(pairing(System::Jira, System::Autotask).is_ok());
        let error = pairing(System::Connectwise, System::Jira)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--internal connectwise --msp jira"),
            "{error}"
        );
        assert!(
            error.contains("--internal servicenow --msp connectwise"),
            "{error}"
        );
    }
}
