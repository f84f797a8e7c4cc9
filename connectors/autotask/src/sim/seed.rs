//! Seed data: a small but realistic Autotask tenant (labels and ids as real
//! tenants show them: statuses 1/5/7/8…, priorities 1–4, queue ids like
//! 29682833, company 0 = the MSP itself).

use super::resources::ResourceRec;
use super::state::{PickValue, Tenant, INTERNAL_PUBLISH, PUBLIC_PUBLISH};

/// Resource id of the human technician used by `user_*` actions by default.
pub(crate) const DEFAULT_HUMAN: (i64, &str) = (29682885, "Tina Tech");

fn list(values: &[(i64, &str)]) -> Vec<PickValue> {
    values.iter().map(|(v, l)| PickValue::new(*v, l)).collect()
}

pub(crate) fn tenant() -> Tenant {
    let mut statuses = list(&[
        (1, "New"),
        (5, "Complete"),
        (7, "Waiting Customer"),
        (8, "In Progress"),
        (9, "Waiting Materials"),
        (10, "Dispatched"),
        (11, "Escalate"),
        (12, "Waiting Vendor"),
        (13, "Waiting Approval"),
    ]);
    for s in statuses.iter_mut() {
        s.system = matches!(s.value, 1 | 5);
        s.default = s.value == 1;
    }
    let mut priorities = list(&[(1, "High"), (2, "Medium"), (3, "Low"), (4, "Critical")]);
    for p in priorities.iter_mut() {
        p.default = p.value == 2;
    }
    let queues = list(&[
        (5, "Client Portal"),
        (6, "Post Sale"),
        (8, "Monitoring Alert"),
        (29682833, "Level I Support"),
        (29682969, "Level II Support"),
        (29683354, "Recurring Tickets"),
        (29683481, "Escalate to MSP"),
    ]);
    let issue_types = list(&[(1, "Hardware"), (2, "Software"), (3, "Network")]);
    let sub_issue_types = list(&[
        (10, "Laptop"),
        (11, "Printer"),
        (20, "Email"),
        (21, "Office"),
        (30, "VPN"),
        (31, "Wi-Fi"),
    ]);
    let mut ticket_types = list(&[
        (1, "Service Request"),
        (2, "Incident"),
        (3, "Problem"),
        (4, "Change Request"),
        (5, "Alert"),
    ]);
    ticket_types[0].default = true;
    let sources = list(&[
        (-1, "Client Portal"),
        (1, "Other"),
        (2, "Phone"),
        (4, "Email"),
        (6, "In Person / Onsite"),
        (8, "Monitoring Alert"),
        (11, "Web Portal"),
    ]);
    let note_types = list(&[
        (1, "Task Summary"),
        (2, "Task Detail"),
        (3, "Task Notes"),
        (13, "Workflow Rule Note"),
        (18, "Client Portal Note"),
        (101, "Email Note"),
    ]);
    let publishes = list(&[
        (1, PUBLIC_PUBLISH),
        (2, INTERNAL_PUBLISH),
        (4, "Internal & Co-Managed"),
    ]);
    let companies = [
        (0, "Northwind MSP"),
        (174, "Contoso Ltd"),
        (175, "Fabrikam Inc"),
    ]
    .into_iter()
    .map(|(id, name)| (id, name.to_string()))
    .collect();
    let resources = [
        (4, "Autotask Administrator"),
        DEFAULT_HUMAN,
        (29682886, "Sam Supervisor"),
        (29682903, "Dana Dispatcher"),
    ]
    .into_iter()
    .map(|(id, name)| (id, ResourceRec::person(name)))
    .collect();
    Tenant {
        statuses,
        priorities,
        queues,
        issue_types,
        sub_issue_types,
        ticket_types,
        sources,
        note_types,
        publishes,
        companies,
        resources,
        udfs: vec!["PSA Bridge Ref".to_string(), "MSP Ticket".to_string()],
    }
}
