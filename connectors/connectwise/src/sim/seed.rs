//! The simulated tenant's starting data: two boards with their own statuses,
//! ticket types and subtypes,
//! the four standard priorities, three companies and an MSP engineer.

use super::state::{Board, BoardType, Company, Member, Priority, State, Status};

/// Identifier of the API member whose keys the bridge uses.
pub const API_MEMBER: &str = "bridgeapi";

pub(crate) fn seed() -> State {
    let mut state = State {
        next_ticket: 1001,
        next_note: 5001,
        next_callback: 1,
        callbacks_enabled: true,
        api_member: API_MEMBER.to_string(),
        ..State::default()
    };
    state.boards = vec![
        Board {
            id: 1,
            name: "Co-Managed".into(),
            inactive: false,
        },
        Board {
            id: 2,
            name: "Help Desk".into(),
            inactive: false,
        },
        Board {
            id: 3,
            name: "Old Projects".into(),
            inactive: true,
        },
    ];
    let statuses: [(i64, i64, &str, bool, bool, bool); 11] = [
        // (id, board, name, closed, inactive, default)
        (11, 1, "New", false, false, true),
        (12, 1, "In Progress", false, false, false),
        (13, 1, "Waiting Customer", false, false, false),
        (14, 1, "Resolved", true, false, false),
        (15, 1, ">Closed", true, false, false),
        (16, 1, "Escalated (retired)", false, true, false),
        (21, 2, "New", false, false, true),
        (22, 2, "Assigned", false, false, false),
        (23, 2, "Scheduled", false, false, false),
        (24, 2, "Completed", true, false, false),
        (25, 2, ">Closed", true, false, false),
    ];
    state.statuses = statuses
        .iter()
        .enumerate()
        .map(|(i, (id, board, name, closed, inactive, default))| Status {
            id: *id,
            board_id: *board,
            name: (*name).into(),
            sort: i as i64,
            closed: *closed,
            inactive: *inactive,
            default: *default,
        })
        .collect();
    let board_type = |(id, board_id, name): (i64, i64, &str)| BoardType {
        id,
        board_id,
        name: name.into(),
        inactive: false,
    };
    state.types = [
        (101, 1, "Incident"),
        (102, 1, "Service Request"),
        (103, 1, "Problem"),
        (201, 2, "Incident"),
        (202, 2, "Request"),
    ]
    .into_iter()
    .map(board_type)
    .collect();
    state.subtypes = [
        (111, 1, "Network"),
        (112, 1, "Hardware"),
        (113, 1, "Software"),
        (211, 2, "Hardware"),
        (212, 2, "Software"),
    ]
    .into_iter()
    .map(board_type)
    .collect();
    state.items = [(121, 1, "Laptop"), (122, 1, "Printer"), (221, 2, "Laptop")]
        .into_iter()
        .map(board_type)
        .collect();
    state.priorities = [
        (7, "Priority 1 - Emergency Response", 1, false),
        (8, "Priority 2 - Quick Response", 2, false),
        (4, "Priority 3 - Normal Response", 3, true),
        (15, "Priority 4 - Schedule Maintenance", 4, false),
    ]
    .iter()
    .map(|(id, name, sort, default)| Priority {
        id: *id,
        name: (*name).into(),
        sort: *sort,
        default: *default,
    })
    .collect();
    state.companies = vec![
        Company {
            id: 250,
            identifier: "ACME".into(),
            name: "Acme Corp".into(),
        },
        Company {
            id: 251,
            identifier: "Contoso".into(),
            name: "Contoso Ltd".into(),
        },
        Company {
            id: 252,
            identifier: "Fabrikam".into(),
            name: "Fabrikam Inc".into(),
        },
    ];
    state.members = vec![
        Member {
            id: 148,
            identifier: "jsmith".into(),
            name: "John Smith".into(),
            email: "john.smith@northwind-msp.example".into(),
        },
        Member {
            id: 190,
            identifier: API_MEMBER.into(),
            name: "PSA Bridge API".into(),
            email: String::new(),
        },
        Member {
            id: 201,
            identifier: "ttech".into(),
            name: "Tina Tech".into(),
            email: "tina.tech@northwind-msp.example".into(),
        },
        Member {
            id: 202,
            identifier: "ssupervisor".into(),
            name: "Sam Supervisor".into(),
            email: "sam.supervisor@northwind-msp.example".into(),
        },
    ];
    state
}
