//! `outbox list|dead|retry` (operations and dead notices) and `audit --ticket|verify`.

use std::path::Path;
use std::process::ExitCode;

use psa_bridge::delivery::Retried;
use psa_bridge::report::{self, OutboxRow};
use psa_bridge::store::{AuditEntry, DeadNotice};

use super::access::{connect, refusal, Access};

fn print_ops(rows: &[OutboxRow], notices: &[DeadNotice], dead_only: bool) {
    let shown: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| !dead_only || r.op.dead.is_some())
        .collect();
    if shown.is_empty() && notices.is_empty() {
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
    for row in shown {
        let op = &row.op;
        let state = match (&op.dead, row.blocked_by) {
            (Some(d), _) => format!(
                "DEAD ({}): {}{}",
                d.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                d.message,
                if row.waiting > 0 {
                    format!("; {} operation(s) wait behind it", row.waiting)
                } else {
                    String::new()
                }
            ),
            (None, Some(dead)) => format!("WAITING behind dead letter {dead}"),
            (None, None) => format!(
                "pending, attempt {} at {}",
                op.attempts + 1,
                op.next_attempt_at.to_rfc3339()
            ),
        };
        let concerns = if row.tickets.is_empty() {
            format!("link {}", op.link)
        } else {
            row.tickets.join(" ")
        };
        println!(
            "{:<8} {:<12} {:<40} [{concerns}] {state}",
            op.id,
            op.connection,
            op.action.describe()
        );
    }
    for notice in notices {
        let item = &notice.item;
        println!(
            "{:<8} {:<12} {:<40} [{}:{}] DEAD NOTICE ({}): {}",
            item.id,
            item.connection,
            "plan ticket change",
            item.connection,
            item.ticket_id,
            notice
                .dead
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            notice.dead.message
        );
    }
}

pub async fn outbox(config: &Path, dead_only: bool) -> anyhow::Result<ExitCode> {
    let (rows, notices): (Vec<OutboxRow>, Vec<DeadNotice>) = match connect(config).await? {
        Access::Local(engine) => (report::outbox_rows(&engine)?, engine.store.dead_notices()?),
        Access::Remote { base, client } => (
            Access::get_json(&client, format!("{base}/admin/outbox")).await?,
            Access::get_json(&client, format!("{base}/admin/notices/dead")).await?,
        ),
    };
    print_ops(&rows, &notices, dead_only);
    Ok(ExitCode::SUCCESS)
}

/// `outbox retry ID`: a dead operation or dead notice (see `delivery::requeue`).
pub async fn retry(config: &Path, id: u64) -> anyhow::Result<ExitCode> {
    let retried: Option<Retried> = match connect(config).await? {
        Access::Local(engine) => engine.retry_dead(id).await?,
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
    match retried {
        Some(retried) => {
            println!("{}", retried.describe());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no outbox operation or dead notice {id}");
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
