//! A randomized workload over two pairings at once, ServiceNow ↔ ConnectWise
//! ("acme") and Jira ↔ Autotask ("globex"), so all four connectors take
//! part: tickets are escalated, then the internal teams change priorities,
//! the MSPs move statuses, and both sides add public and internal notes.
//! [`plan`] draws the changes from a seed and keeps the state they must
//! leave behind; [`checks`] compares the simulators with it; [`acked`]
//! proves every webhook the daemon acknowledged reached its store. The crash
//! campaign and the fault-injection test drive it.

pub mod acked;
pub mod checks;
pub mod plan;

use std::net::SocketAddr;
use std::time::Duration;

use psa_bridge::demo::{pairing, DemoEnv, DemoOptions, Pairing, System};

use crate::common::{env, TestDir};

/// The labels a lane's changes use, index for index: the internal side's
/// priorities and what the mapping makes of them on the MSP side, the MSP
/// statuses and what they become on the internal side.
pub struct Values {
    pub start_priority: &'static str,
    pub internal_priorities: [&'static str; 4],
    pub msp_priorities: [&'static str; 4],
    pub msp_statuses: [&'static str; 2],
    pub internal_statuses: [&'static str; 2],
}

/// One pairing of the workload.
pub struct Lane {
    pub name: &'static str,
    pub pairing: &'static Pairing,
    pub values: Values,
}

/// The two pairings, from the shipped mappings.
pub fn lanes() -> [Lane; 2] {
    let known = |internal, msp| pairing(internal, msp).expect("a shipped pairing");
    [
        Lane {
            name: "acme",
            pairing: known(System::Servicenow, System::Connectwise),
            values: Values {
                start_priority: "3 - Moderate",
                internal_priorities: ["1 - Critical", "2 - High", "3 - Moderate", "4 - Low"],
                msp_priorities: [
                    "Priority 1 - Emergency Response",
                    "Priority 2 - Quick Response",
                    "Priority 3 - Normal Response",
                    "Priority 4 - Schedule Maintenance",
                ],
                msp_statuses: ["In Progress", "Waiting Customer"],
                internal_statuses: ["In Progress", "On Hold"],
            },
        },
        Lane {
            name: "globex",
            pairing: known(System::Jira, System::Autotask),
            values: Values {
                // The workflow offers Escalate on High and Highest issues only.
                start_priority: "High",
                internal_priorities: ["Highest", "High", "Medium", "Low"],
                msp_priorities: ["Critical", "High", "Medium", "Low"],
                msp_statuses: ["In Progress", "Waiting Customer"],
                internal_statuses: ["In Progress", "Waiting for customer"],
            },
        },
    ]
}

/// A positive number from the environment, or `default`.
pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The four simulators with a two-pairing configuration whose webhook
/// listener has a fixed port (registrations stay valid across restarts)
/// and whose vendor calls give up after `timeout_secs`.
pub async fn two_pairings(timeout_secs: u64) -> (TestDir, DemoEnv, SocketAddr) {
    let options = DemoOptions {
        poll_interval_secs: 2,
        ..Default::default()
    };
    let (dir, env) = env(options.clone()).await;
    let lanes = lanes();
    let pairings: Vec<(&str, &'static Pairing)> =
        lanes.iter().map(|l| (l.name, l.pairing)).collect();
    env.write_config_for(&pairings, &options).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = std::fs::read_to_string(&env.config_path)
        .unwrap()
        .replacen(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
            1,
        )
        .replace(
            "timeout_secs = 10",
            &format!("timeout_secs = {timeout_secs}"),
        );
    std::fs::write(&env.config_path, config).unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    env.connect_servicenow_notifications(addr);
    (dir, env, addr)
}

/// Every simulator's fault panel.
pub fn controls(env: &DemoEnv) -> [std::sync::Arc<psa_connector::sim::SimControl>; 4] {
    [
        env.autotask.control(),
        env.connectwise.control(),
        env.servicenow.control(),
        env.jira.control(),
    ]
}

/// The bridge's ticket and note writes on all four systems.
pub fn all_writes(env: &DemoEnv) -> usize {
    [
        System::Autotask,
        System::Connectwise,
        System::Servicenow,
        System::Jira,
    ]
    .into_iter()
    .map(|s| env.desk(s).bridge_writes())
    .sum()
}

/// A pause between two workload steps, drawn from `rng`.
pub fn pause(rng: &mut impl rand::Rng, most_ms: u64) -> Duration {
    Duration::from_millis(rng.random_range(0..=most_ms))
}

/// Opens `per_lane` tickets on each lane's internal side, escalates them,
/// and waits until each has its MSP ticket; records them in `expected`.
pub async fn escalate(
    env: &DemoEnv,
    lanes: &[Lane],
    per_lane: usize,
    rng: &mut impl rand::Rng,
    expected: &mut plan::Expected,
    timeout: Duration,
) {
    let mut opened = Vec::new();
    for index in 0..per_lane {
        for (l, lane) in lanes.iter().enumerate() {
            let desk = env.desk(lane.pairing.internal);
            let ticket = desk.open(
                &format!("Campaign {} {index}", lane.name),
                &format!("Ticket {index} of the {} lane.", lane.name),
                lane.values.start_priority,
            );
            desk.escalate(&ticket.id);
            opened.push((l, index, ticket.id));
            tokio::time::sleep(pause(rng, 40)).await;
        }
    }
    for (l, index, internal_id) in opened {
        let lane = &lanes[l];
        let (internal, msp) = (env.desk(lane.pairing.internal), env.desk(lane.pairing.msp));
        let msp_id = psa_bridge::demo::wait_for("an escalation", timeout, || {
            let far = internal.ticket(&internal_id)?.far_number?;
            msp.id_of_number(&far)
        })
        .await
        .unwrap();
        let priority = lane
            .values
            .internal_priorities
            .iter()
            .position(|p| *p == lane.values.start_priority)
            .unwrap();
        expected.tickets.push(plan::Linked {
            lane: l,
            index,
            internal_id,
            msp_id,
            priority,
            status: None,
            notes: Vec::new(),
        });
    }
}

/// Waits until the systems show what `expected` says (notes counted as
/// `notes`), or fails listing what still differs.
pub async fn converge(
    env: &DemoEnv,
    lanes: &[Lane],
    expected: &plan::Expected,
    notes: checks::Notes,
    timeout: Duration,
) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let wrong = checks::mismatches(env, lanes, expected, notes);
        if wrong.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not converged after {timeout:?}; {} differences, first: {:#?}",
            wrong.len(),
            &wrong[..wrong.len().min(20)]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls the admin API's `path` (JSON) until `check` yields a value.
pub async fn wait_for_json<T>(
    bridge: &crate::common::Bridge,
    path: &str,
    timeout: Duration,
    check: impl Fn(&serde_json::Value) -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let body = bridge.admin_get(path).await;
        let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if let Some(found) = check(&value) {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never showed what was awaited: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
