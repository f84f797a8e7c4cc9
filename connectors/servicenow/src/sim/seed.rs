//! The instance's reference data: choice lists of `incident` and `task`
//! (state, impact, urgency, priority, close_code, hold_reason), assignment
//! groups, users and companies.

use super::auth::SimUser;
use super::state::{Data, Rec};

fn rec(pairs: &[(&str, &str)]) -> Rec {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Choice lists as a new instance has them for `incident`.
pub(crate) const CHOICES: &[(&str, &[(&str, &str)])] = &[
    (
        "category",
        &[
            ("inquiry", "Inquiry / Help"),
            ("software", "Software"),
            ("hardware", "Hardware"),
            ("network", "Network"),
        ],
    ),
    (
        "subcategory",
        &[
            ("printer", "Printer"),
            ("laptop", "Laptop"),
            ("vpn", "VPN"),
            ("email", "Email"),
        ],
    ),
    (
        "state",
        &[
            ("1", "New"),
            ("2", "In Progress"),
            ("3", "On Hold"),
            ("6", "Resolved"),
            ("7", "Closed"),
            ("8", "Canceled"),
        ],
    ),
    (
        "impact",
        &[("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")],
    ),
    (
        "urgency",
        &[("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")],
    ),
    (
        "priority",
        &[
            ("1", "1 - Critical"),
            ("2", "2 - High"),
            ("3", "3 - Moderate"),
            ("4", "4 - Low"),
            ("5", "5 - Planning"),
        ],
    ),
    (
        "close_code",
        &[
            ("Solved (Work Around)", "Solved (Work Around)"),
            ("Solved (Permanently)", "Solved (Permanently)"),
            (
                "Solved Remotely (Work Around)",
                "Solved Remotely (Work Around)",
            ),
            (
                "Solved Remotely (Permanently)",
                "Solved Remotely (Permanently)",
            ),
            (
                "Not Solved (Not Reproducible)",
                "Not Solved (Not Reproducible)",
            ),
            ("Not Solved (Too Costly)", "Not Solved (Too Costly)"),
            ("Closed/Resolved by Caller", "Closed/Resolved by Caller"),
        ],
    ),
    (
        "hold_reason",
        &[
            ("1", "Awaiting Caller"),
            ("5", "Awaiting Change"),
            ("3", "Awaiting Problem"),
            ("4", "Awaiting Vendor"),
        ],
    ),
];

pub(crate) const GROUPS: &[&str] = &["Service Desk", "Network", "MSP Escalation", "Hardware"];
pub(crate) const COMPANIES: &[&str] = &["ACME Corp", "Contoso Ltd"];

/// Fills `data` with the reference tables; API users become `sys_user` rows.
pub(crate) fn seed(data: &mut Data, api_users: &[SimUser]) {
    // Task tables without their own lists use `task`'s.
    for (table, (element, choices)) in ["incident", "task"]
        .iter()
        .flat_map(|t| CHOICES.iter().map(move |c| (*t, c)))
    {
        for (n, (value, label)) in choices.iter().enumerate() {
            data.store(
                "sys_choice",
                rec(&[
                    ("name", table),
                    ("element", element),
                    ("value", value),
                    ("label", label),
                    ("language", "en"),
                    ("inactive", "false"),
                    ("sequence", &(n + 1).to_string()),
                ]),
            );
        }
    }
    for group in GROUPS {
        data.store(
            "sys_user_group",
            rec(&[("name", group), ("active", "true")]),
        );
    }
    for company in COMPANIES {
        data.store("core_company", rec(&[("name", company)]));
    }
    let humans = [
        ("abel.tuter", "Abel Tuter", "abel.tuter@example.com"),
        ("ivy.internal", "Ivy Internal", "ivy.internal@example.com"),
        (
            "sam.supervisor",
            "Sam Supervisor",
            "sam.supervisor@northwind-msp.example",
        ),
    ];
    for (user_name, name, email) in humans {
        data.store(
            "sys_user",
            rec(&[
                ("user_name", user_name),
                ("name", name),
                ("email", email),
                ("active", "true"),
            ]),
        );
    }
    for user in api_users {
        data.store(
            "sys_user",
            rec(&[
                ("user_name", &user.user_name),
                ("name", &user.name),
                ("active", "true"),
            ]),
        );
    }
}
