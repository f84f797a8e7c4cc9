//! The shared-MSP scenario: one ConnectWise connection (the MSP) shared by
//! three client pairings, each client a company on the MSP's side (scope
//! from `[create] placement`): Acme on Autotask, Contoso on ServiceNow,
//! Fabrikam on Jira. The end-to-end test `shared_connection` plays their
//! stories at once and checks that nothing of one client reaches another.

use super::story::{Script, AUTOTASK_TO_CONNECTWISE, SERVICENOW_TO_CONNECTWISE};
use super::{connection_block, DemoEnv, DemoOptions, System, EXAMPLE_MAPPING, SERVICENOW_MAPPING};

/// One client of the MSP: its pairing, its own system, its company on the
/// MSP's ConnectWise and its story's labels.
#[derive(Debug)]
pub struct Client {
    /// The pairing's name.
    pub name: &'static str,
    pub internal: System,
    /// Company identifier on the MSP's ConnectWise.
    pub company: &'static str,
    pub script: &'static Script,
    /// Where a ticket the MSP opens for the client lands on the client's
    /// system (`[reverse_trigger] placement`, an inline TOML table).
    pub reverse_placement: &'static str,
}

/// The MSP opens work for a client on this board, in status "New", for the
/// client's company: `[reverse_trigger]` of every client's mapping.
pub const MSP_BOARD: &str = "Co-Managed";

/// Jira Service Management (internal) ↔ ConnectWise (MSP) story labels.
pub const JIRA_TO_CONNECTWISE: Script = Script {
    internal_high: "High",
    internal_critical: "Highest",
    internal_in_progress: "In Progress",
    internal_done: "Resolved",
    msp_in_progress: "In Progress",
    msp_critical: "Priority 1 - Emergency Response",
    msp_closed: ">Closed",
    // Not checked in this scenario (its checks are about isolation).
    expected_writes: (0, 0),
};

/// The three clients sharing the MSP connection.
pub const CLIENTS: [Client; 3] = [
    Client {
        name: "acme",
        internal: System::Autotask,
        company: "ACME",
        script: &AUTOTASK_TO_CONNECTWISE,
        reverse_placement: "{ queue = \"Level I Support\" }",
    },
    Client {
        name: "contoso",
        internal: System::Servicenow,
        company: "Contoso",
        script: &SERVICENOW_TO_CONNECTWISE,
        reverse_placement: "{}",
    },
    Client {
        name: "fabrikam",
        internal: System::Jira,
        company: "Fabrikam",
        script: &JIRA_TO_CONNECTWISE,
        reverse_placement: "{}",
    },
];

/// Jira ↔ ConnectWise, for the scenario (`{company}` filled in per client).
const JIRA_MAPPING: &str = r#"
[trigger]
side = "a"
status = "Escalated"

[create]
placement = { board = "Co-Managed", company = "{company}" }
title_template = "{title} [{number}]"

[write_back]
note = "Escalated to the MSP: ConnectWise ticket #{number}."
note_visibility = "internal"
field = "MSP Ticket"

[[fields]]
name = "title"
direction = "both"
owner = "a"
max_length_b = 100

[[fields]]
name = "status"
direction = "both"
owner = "b"
values = [
  { a = "Escalated", b = "New" },
  { a = "In Progress", b = "In Progress" },
  { a = "Waiting for customer", b = "Waiting Customer" },
  { a = "Resolved", b = ">Closed", a_with = { resolution = "Fixed" } },
  { a = "Resolved", b = "Resolved", a_with = { resolution = "Fixed" } },
]

[[fields]]
name = "priority"
direction = "both"
owner = "a"
values = [
  { a = "Highest", b = "Priority 1 - Emergency Response" },
  { a = "High", b = "Priority 2 - Quick Response" },
  { a = "Medium", b = "Priority 3 - Normal Response" },
  { a = "Low", b = "Priority 4 - Schedule Maintenance" },
  { a = "Lowest", b = "Priority 4 - Schedule Maintenance" },
]

[comments]
public = "both"
internal = "none"

[on_close.b]
set_status = "Resolved"
note = "The MSP closed its ticket."
note_visibility = "internal"
"#;

impl Client {
    /// The client's mapping: its system's shipped mapping (Jira: the one
    /// above) creating on the MSP's board for the client's company, and
    /// taking the MSP's new tickets for that company on [`MSP_BOARD`].
    pub fn mapping(&self) -> String {
        let shipped = |text: &str| {
            text.replace(
                "company = \"ACME\"",
                &format!("company = \"{}\"", self.company),
            )
        };
        let forward = match self.internal {
            System::Autotask => shipped(EXAMPLE_MAPPING),
            System::Servicenow => shipped(SERVICENOW_MAPPING),
            _ => JIRA_MAPPING.replace("{company}", self.company),
        };
        format!(
            "{forward}\n[reverse_trigger]\nqueue = \"{MSP_BOARD}\"\nstatus = \"New\"\n\
             placement = {}\ntitle_template = \"MSP: {{title}} [{{number}}]\"\n",
            self.reverse_placement
        )
    }
}

impl DemoEnv {
    /// Writes a configuration with the three [`CLIENTS`] pairings, all
    /// sharing the one ConnectWise connection as side b, into the demo
    /// directory (replacing its `psa-bridge.toml`).
    pub fn write_shared_config(&self, options: &DemoOptions) -> std::io::Result<()> {
        let mut connections = String::new();
        let mut pairings = String::new();
        for client in &CLIENTS {
            let file = format!("mapping-{}.toml", client.name);
            std::fs::write(self.dir.join(&file), client.mapping())?;
            let internal = client.internal.connection();
            connections.push_str(&connection_block(
                internal,
                &client.internal.settings(self),
                options,
            ));
            pairings.push_str(&format!(
                "[[pairings]]\nname = \"{}\"\na = \"{internal}\"\nb = \"{}\"\nmapping = \"{file}\"\n\n",
                client.name,
                System::Connectwise.connection(),
            ));
        }
        connections.push_str(&connection_block(
            System::Connectwise.connection(),
            &System::Connectwise.settings(self),
            options,
        ));
        let text = format!(
            "[daemon]\nstore_path = \"store\"\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
             register_webhooks = {}\ntick_ms = 50\n\n{connections}{pairings}",
            options.webhooks,
        );
        std::fs::write(&self.config_path, text)
    }
}
