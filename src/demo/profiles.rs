//! What each system looks like to the bridge on either side of a pairing:
//! the labels its simulator's default tenant has, how the internal team
//! escalates there and where the far number is written back, where the
//! MSP's new tickets go (the connector's placement keys), the companion
//! fields its states need, and what its notes can do. The shipped mappings
//! (`mappings/<internal>-to-<msp>.toml`) and the demo's scripts use these
//! labels; `mapping_text` checks the shipped files against them.

use super::System;

/// A status label and the fields written together with it
/// (`a_with`/`b_with`, `src/config/companion.rs`).
#[derive(Debug)]
pub struct Label {
    pub label: &'static str,
    pub with: &'static [(&'static str, &'static str)],
}

const fn plain(label: &'static str) -> Label {
    Label { label, with: &[] }
}

/// One system as the shipped mappings use it.
#[derive(Debug)]
pub struct Profile {
    pub system: System,
    /// Short product name (`Autotask`), for notes and comments.
    pub product: &'static str,
    /// Full product name for a mapping's heading.
    pub long_name: &'static str,
    /// Where the internal team works, for the heading (may be empty).
    pub internal_where: &'static str,
    /// What `{number}` of one of its tickets is.
    pub number: &'static str,
    /// Critical, High, Medium, Low.
    pub priorities: [&'static str; 4],
    /// Further priority labels and the level (index into `priorities`) each means.
    pub extra_priorities: &'static [(&'static str, usize)],
    /// The status a ticket has when it is escalated (side a) …
    pub new_internal: &'static str,
    /// … and the status of a new ticket (side b).
    pub new_msp: &'static str,
    pub in_progress: &'static str,
    pub waiting: Label,
    /// Closed statuses; the first is the one the demo's people and the
    /// close rule use.
    pub done: &'static [Label],
    /// The trigger as internal system: key (`queue` or `status`) and label.
    pub trigger: (&'static str, &'static str),
    /// How the trigger reads in the mapping's comment.
    pub trigger_text: &'static str,
    /// The write-back field as internal system, with how it reads.
    pub write_back_field: Option<(&'static str, &'static str)>,
    /// Why there is no write-back field, when there is none.
    pub no_write_back_field: &'static str,
    /// The placement of tickets created here as the MSP (TOML inline table).
    pub placement: &'static str,
    /// The placement keys the connector takes.
    pub placement_keys: &'static str,
    /// The title's length limit, when the mapping should state it.
    pub title_max: Option<usize>,
    /// What its public and internal notes are called.
    pub public_notes: &'static str,
    pub internal_notes: &'static str,
    /// An internal note's name, for the write-back and close-rule notes.
    pub internal_note: &'static str,
    /// Its notes can be marked as the resolution (`{resolution}` finds them).
    pub resolution_notes: bool,
    /// The connector can make a note internal after it was posted.
    pub can_hide_notes: bool,
    /// How it moves between statuses, when that needs saying.
    pub status_text: &'static str,
}

pub const AUTOTASK: Profile = Profile {
    system: System::Autotask,
    product: "Autotask",
    long_name: "Autotask PSA",
    internal_where: "",
    number: "ticket number",
    priorities: ["Critical", "High", "Medium", "Low"],
    extra_priorities: &[],
    new_internal: "New",
    new_msp: "New",
    in_progress: "In Progress",
    waiting: plain("Waiting Customer"),
    done: &[plain("Complete")],
    trigger: ("queue", "Escalate to MSP"),
    trigger_text: "an Autotask ticket that enters the queue \"Escalate to MSP\"",
    write_back_field: Some(("udf:MSP Ticket", "the user-defined field \"MSP Ticket\"")),
    no_write_back_field: "",
    placement: "{ queue = \"Level II Support\" }",
    placement_keys: "`queue` (name) and optional `company_id`, `ticket_type`, `source`, `contact_id`, `assigned_resource_id`, `assigned_resource_role_id`.",
    title_max: None,
    public_notes: "notes published to all",
    internal_notes: "internal notes",
    internal_note: "internal note",
    resolution_notes: false,
    can_hide_notes: true,
    status_text: "",
};

pub const CONNECTWISE: Profile = Profile {
    system: System::Connectwise,
    product: "ConnectWise",
    long_name: "ConnectWise PSA",
    internal_where: "",
    number: "ticket id",
    priorities: [
        "Priority 1 - Emergency Response",
        "Priority 2 - Quick Response",
        "Priority 3 - Normal Response",
        "Priority 4 - Schedule Maintenance",
    ],
    extra_priorities: &[],
    new_internal: "New",
    new_msp: "New",
    in_progress: "In Progress",
    waiting: plain("Waiting Customer"),
    done: &[plain(">Closed"), plain("Resolved")],
    trigger: ("queue", "Co-Managed"),
    trigger_text: "a ConnectWise ticket moved to (or opened on) the board \"Co-Managed\", the board the co-managing MSP works from,",
    write_back_field: None,
    no_write_back_field: "The connector writes no ConnectWise custom fields, so the note alone carries the number.",
    placement: "{ board = \"Co-Managed\", company = \"ACME\" }",
    placement_keys: "`board` (name), `company` (identifier) and optional `type`, `subtype`.",
    title_max: Some(100),
    public_notes: "discussion notes",
    internal_notes: "internal notes",
    internal_note: "internal note",
    resolution_notes: true,
    can_hide_notes: true,
    status_text: "ConnectWise statuses are per board: these are the board \"Co-Managed\"'s.",
};

/// ServiceNow's companion fields for Resolved and Closed; `{resolution}`
/// becomes a fixed text where the other side has no resolution notes.
const SN_CLOSE: &[(&str, &str)] = &[
    ("close_code", "Solved Remotely (Permanently)"),
    ("close_notes", "{resolution}"),
];

pub const SERVICENOW: Profile = Profile {
    system: System::Servicenow,
    product: "ServiceNow",
    long_name: "ServiceNow",
    internal_where: ", table `incident`",
    number: "INC number",
    priorities: ["1 - Critical", "2 - High", "3 - Moderate", "4 - Low"],
    extra_priorities: &[("5 - Planning", 3)],
    new_internal: "New",
    new_msp: "New",
    in_progress: "In Progress",
    waiting: Label {
        label: "On Hold",
        with: &[("hold_reason", "Awaiting Caller")],
    },
    done: &[
        Label {
            label: "Resolved",
            with: SN_CLOSE,
        },
        Label {
            label: "Closed",
            with: SN_CLOSE,
        },
    ],
    trigger: ("queue", "MSP Escalation"),
    trigger_text: "an incident assigned to the group \"MSP Escalation\"",
    write_back_field: Some((
        "correlation_id",
        "`correlation_id`, the field ServiceNow integrations (\"eBonding\") keep the other system's reference in",
    )),
    no_write_back_field: "",
    placement: "{ assignment_group = \"Service Desk\", company = \"ACME Corp\" }",
    placement_keys: "incident fields: references (`assignment_group`, `company`, `caller_id`, `assigned_to`) by display name, choices by label.",
    title_max: None,
    public_notes: "customer-visible comments",
    internal_notes: "work notes",
    internal_note: "work note",
    resolution_notes: false,
    can_hide_notes: false,
    status_text: "ServiceNow guards states with data policies: On Hold needs `hold_reason`, Resolved and Closed need `close_code` and `close_notes`; `a_with`/`b_with` name the fields written with that state ({resolution}: the other side's latest resolution note). Without them the write is refused naming the field.",
};

pub const JIRA: Profile = Profile {
    system: System::Jira,
    product: "Jira",
    long_name: "Jira Service Management",
    internal_where: ", project HELP",
    number: "issue key",
    priorities: ["Highest", "High", "Medium", "Low"],
    extra_priorities: &[("Lowest", 3)],
    new_internal: "Escalated",
    new_msp: "Open",
    in_progress: "In Progress",
    waiting: plain("Waiting for customer"),
    done: &[
        Label {
            label: "Resolved",
            with: &[("resolution", "Fixed")],
        },
        Label {
            label: "Closed",
            with: &[("resolution", "Done")],
        },
    ],
    trigger: ("status", "Escalated"),
    trigger_text: "an open issue that reaches the workflow status \"Escalated\" (the tech runs the Escalate transition, offered for High and Highest issues)",
    write_back_field: Some(("MSP Ticket", "the custom field \"MSP Ticket\" (by name)")),
    no_write_back_field: "",
    placement: "{ issuetype = \"Service Request\" }",
    placement_keys: "the connection's `project`, and optional `issuetype` (name).",
    title_max: None,
    public_notes: "public (customer-visible) comments",
    internal_notes: "internal comments",
    internal_note: "internal comment",
    resolution_notes: false,
    can_hide_notes: false,
    status_text: "Jira moves a status only through workflow transitions; the connector finds the shortest path and fills the fields a transition requires (Resolve and Close ask for a resolution: `a_with`/`b_with`).",
};

/// The profile of `system`.
pub const fn profile(system: System) -> &'static Profile {
    match system {
        System::Autotask => &AUTOTASK,
        System::Connectwise => &CONNECTWISE,
        System::Servicenow => &SERVICENOW,
        System::Jira => &JIRA,
    }
}
