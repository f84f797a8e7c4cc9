//! `outbox list|dead|retry` and `audit --ticket|verify`.

use std::path::Path;
use std::process::ExitCode;

use psa_bridge::report::{self, OutboxRow};
use psa_bridge::store::{AuditEntry, OutboxOp};

use super::access::{connect, refusal, Access};

fn print_ops(rows: &[OutboxRow], dead_only: bool) {
    let shown: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| !dead_only || r.op.dead.is_some())
        .collect();
    if shown.is_empty() {
        println!(
            "{}",
            if dead_only {
                "no dead letters"
            } else {
                "outbox is empty"
            }
        );
        return;
    }
    for OutboxRow { op, tickets } in shown {
        let state = match &op.dead {
            Some(d) => format!(
                "DEAD ({}): {}",
                d.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                d.message
            ),
            None => format!(
                "pending, attempt {} at {}",
                op.attempts + 1,
                op.next_attempt_at.to_rfc3339()
            ),
        };
        let concerns = if tickets.is_empty() {
            format!("link {}", op.link)
        } else {
            tickets.join(" ")
        };
        println!(
            "{:<8} {:<12} {:<40} [{concerns}] {state}",
            op.id,
            op.connection,
            op.action.describe()
        );
    }
}

pub async fn outbox(config: &Path, dead_only: bool) -> anyhow::Result<ExitCode> {
    let rows: Vec<OutboxRow> = match connect(config).await? {
        Access::Local(engine) => report::outbox_rows(&engine)?,
        Access::Remote { base, client } => {
            Access::get_json(&client, format!("{base}/admin/outbox")).await?
        }
    };
    print_ops(&rows, dead_only);
    Ok(ExitCode::SUCCESS)
}

pub async fn retry(config: &Path, id: u64) -> anyhow::Result<ExitCode> {
    let op: Option<OutboxOp> = match connect(config).await? {
        Access::Local(engine) => engine.requeue(id).await?,
        Access::Remote { base, client } => {
            let response = client
                .post(format!("{base}/admin/outbox/{id}/retry"))
                .send()
                .await?;
            if response.status() == reqwest::StatusCode::NOT_FOUND {
                None
            } else if response.status().is_success() {
                Some(response.json().await?)
            } else {
                let status = response.status();
                return Err(refusal(status, &response.text().await.unwrap_or_default()));
            }
        }
    };
    match op {
        Some(op) => {
            println!("re-queued operation {}: {}", op.id, op.action.describe());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no outbox operation {id}");
            Ok(ExitCode::from(1))
        }
    }
}

pub async fn history(config: &Path, ticket: &str) -> anyhow::Result<ExitCode> {
    let entries: Vec<AuditEntry> = match connect(config).await? {
        Access::Local(engine) => report::ticket_history(&engine.store, ticket)?,
        Access::Remote { base, client } => {
            let url = format!("{base}/admin/audit?ticket={}", url_escape(ticket));
            Access::get_json(&client, url).await?
        }
    };
    if entries.is_empty() {
        eprintln!("no audit entries for {ticket}");
        return Ok(ExitCode::from(1));
    }
    print!("{}", report::render_history(&entries));
    Ok(ExitCode::SUCCESS)
}

pub async fn verify(config: &Path) -> anyhow::Result<ExitCode> {
    let verdict = match connect(config).await? {
        Access::Local(engine) => report::verify_json(&engine.store.verify_audit()?),
        Access::Remote { base, client } => {
            Access::get_json::<serde_json::Value>(&client, format!("{base}/admin/audit/verify"))
                .await?
        }
    };
    if verdict["intact"].as_bool() == Some(true) {
        println!(
            "audit chain intact: {} entries; head sha256 {}",
            verdict["entries"],
            verdict["head"].as_str().unwrap_or("-")
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "audit chain BROKEN at entry #{}: {}",
            verdict["entry"],
            verdict["reason"].as_str().unwrap_or("?")
        );
        Ok(ExitCode::from(1))
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
