//! `outbox list|dead|retry|discard` (operations and dead notices, each row
//! naming its pairing; a paused pairing's operations show as held) and
//! `audit [--ticket T] [verify]` (entries name their pairing), through the running daemon's `/api/v1` or
//! the store directly when the daemon is stopped (see [`super::access`]).

use std::path::Path;
use std::process::ExitCode;

use psa_bridge::report::{self, NoticeView, OpView};
use serde_json::{json, Value};

use super::access::{connect, escape, Access, Answer};

fn print_ops(ops: &[OpView], notices: &[NoticeView], paused: &[String], dead_only: bool) {
    let shown: Vec<&OpView> = ops
        .iter()
        .filter(|op| !dead_only || op.state == "dead")
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
    for op in shown {
        let state = match (op.state.as_str(), &op.blocked_by) {
            ("dead", _) => format!(
                "DEAD ({}): {}{}",
                op.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                op.last_error.as_deref().unwrap_or("-"),
                if op.waiting > 0 {
                    format!("; {} operation(s) wait behind it", op.waiting)
                } else {
                    String::new()
                }
            ),
            (_, Some(dead)) => format!("WAITING behind dead letter {dead}"),
            _ if paused.contains(&op.pairing) => {
                format!(
                    "HELD: pairing {} is paused (attempt {} on resume)",
                    op.pairing,
                    op.attempts + 1
                )
            }
            _ if op.held.is_some() => format!("HELD: {}", op.held.as_deref().unwrap_or_default()),
            _ => format!(
                "pending, attempt {} at {}",
                op.attempts + 1,
                op.next_attempt_unix_ms
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "-".into())
            ),
        };
        let concerns = if op.tickets.is_empty() {
            format!("link {}", op.link)
        } else {
            op.tickets.join(" ")
        };
        println!(
            "{:<8} {:<12} {:<12} {:<40} [{concerns}] {state}",
            op.id, op.pairing, op.connection, op.summary
        );
    }
    for notice in notices {
        println!(
            "{:<8} {:<12} {:<12} {:<40} [{}:{}] DEAD NOTICE ({}): {}",
            notice.id,
            "-",
            notice.connection,
            "plan ticket change",
            notice.connection,
            notice.ticket,
            notice
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            notice.message
        );
    }
}

pub async fn outbox(config: &Path, dead_only: bool) -> anyhow::Result<ExitCode> {
    let (ops, notices, paused): (Vec<OpView>, Vec<NoticeView>, Vec<String>) =
        match connect(config).await? {
            Access::Local(engine) => (
                report::outbox_rows(&engine)?
                    .iter()
                    .map(OpView::from)
                    .collect(),
                engine
                    .store
                    .dead_notices()?
                    .iter()
                    .map(NoticeView::from)
                    .collect(),
                engine.store.paused_pairing_names()?,
            ),
            remote @ Access::Remote { .. } => {
                let state = if dead_only { "&state=dead" } else { "" };
                let mut ops = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let after = cursor
                        .as_deref()
                        .map(|c| format!("&cursor={}", escape(c)))
                        .unwrap_or_default();
                    let page: Value = remote
                        .get(&format!("/api/v1/outbox?limit=500{state}{after}"))
                        .await?;
                    let items: Vec<OpView> = serde_json::from_value(page["items"].clone())?;
                    ops.extend(items);
                    match page["next_cursor"].as_str() {
                        Some(next) => cursor = Some(next.to_string()),
                        None => break,
                    }
                }
                let pairings: Vec<psa_bridge::admin::status::PairingStatus> =
                    remote.get("/api/v1/pairings").await?;
                let paused = pairings
                    .into_iter()
                    .filter(|p| p.paused)
                    .map(|p| p.name)
                    .collect();
                (ops, remote.get("/api/v1/notices/dead").await?, paused)
            }
        };
    print_ops(&ops, &notices, &paused, dead_only);
    Ok(ExitCode::SUCCESS)
}

/// `outbox retry ID`: a dead operation or dead notice (see `delivery::requeue`).
pub async fn retry(config: &Path, id: u64) -> anyhow::Result<ExitCode> {
    let said = match connect(config).await? {
        Access::Local(engine) => engine.retry_dead(id).await?.map(|r| r.describe()),
        remote @ Access::Remote { .. } => {
            let mut said = None;
            for path in [
                format!("/api/v1/outbox/{id}/retry"),
                format!("/api/v1/notices/{id}/retry"),
            ] {
                match remote.post(&path, &json!({})).await? {
                    Answer::Done(value) => {
                        said = Some(value["message"].as_str().unwrap_or_default().to_string());
                        break;
                    }
                    Answer::NotFound(_) => continue,
                    Answer::Refused(message) => {
                        eprintln!("{message}");
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            said
        }
    };
    match said {
        Some(said) => {
            println!("{said}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no outbox operation or dead notice {id}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `outbox discard ID [--reason R]`: removes a dead operation or dead notice.
pub async fn discard(config: &Path, id: u64, reason: Option<&str>) -> anyhow::Result<ExitCode> {
    use psa_bridge::admin::actions::OperatorError;
    let said: Result<String, String> = match connect(config).await? {
        Access::Local(engine) => match engine.discard_op(id, reason).await {
            Ok(op) => Ok(format!(
                "discarded dead operation {}: {}",
                op.id,
                op.action.describe()
            )),
            Err(OperatorError::NotFound(_)) => match engine.discard_notice(id, reason).await {
                Ok(n) => Ok(format!(
                    "discarded dead notice {} for {} ticket {}",
                    id, n.item.connection, n.item.ticket_id
                )),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        },
        remote @ Access::Remote { .. } => {
            let body = json!({ "reason": reason });
            let mut said = Err(format!("no outbox operation or dead notice {id}"));
            for (path, what) in [
                (format!("/api/v1/outbox/{id}/discard"), "operation"),
                (format!("/api/v1/notices/{id}/discard"), "notice"),
            ] {
                match remote.post(&path, &body).await? {
                    Answer::Done(v) => {
                        let summary =
                            v["summary"]
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| {
                                    format!(
                                        "for {} ticket {}",
                                        v["connection"].as_str().unwrap_or("?"),
                                        v["ticket"].as_str().unwrap_or("?")
                                    )
                                });
                        said = Ok(format!("discarded dead {what} {id}: {summary}"));
                        break;
                    }
                    Answer::NotFound(_) => continue,
                    Answer::Refused(message) => {
                        said = Err(message);
                        break;
                    }
                }
            }
            said
        }
    };
    match said {
        Ok(said) => {
            println!("{said}");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("{message}");
            Ok(ExitCode::from(1))
        }
    }
}

fn render(entries: &[Value]) -> String {
    let mut out = String::new();
    for e in entries {
        let at = e["at_unix_ms"]
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            "#{:<5} {} {:<13} {:<12} {}\n",
            e["seq"],
            at,
            e["kind"].as_str().unwrap_or_default(),
            e["pairing"].as_str().unwrap_or("-"),
            e["message"].as_str().unwrap_or_default()
        ));
    }
    out
}

fn entry_values(entries: &[psa_bridge::store::AuditEntry]) -> Vec<Value> {
    entries
        .iter()
        .map(psa_bridge::admin::audit::entry_json)
        .collect()
}

/// `audit --ticket CONNECTION:TICKET`.
pub async fn history(config: &Path, ticket: &str) -> anyhow::Result<ExitCode> {
    let entries: Vec<Value> = match connect(config).await? {
        Access::Local(engine) => entry_values(&report::ticket_history(&engine.store, ticket)?),
        remote @ Access::Remote { .. } => {
            let (connection, id) = ticket.split_once(':').ok_or_else(|| {
                anyhow::anyhow!(
                    "give the ticket as CONNECTION:TICKET, e.g. autotask:T20261122.0001"
                )
            })?;
            remote
                .get(&format!(
                    "/api/v1/tickets/{}/{}/audit",
                    escape(connection),
                    escape(id)
                ))
                .await?
        }
    };
    if entries.is_empty() {
        eprintln!("no audit entries for {ticket}");
        return Ok(ExitCode::from(1));
    }
    print!("{}", render(&entries));
    Ok(ExitCode::SUCCESS)
}

/// `audit` alone: the most recent entries, newest first.
pub async fn recent(config: &Path, limit: usize) -> anyhow::Result<ExitCode> {
    let entries: Vec<Value> = match connect(config).await? {
        Access::Local(engine) => entry_values(&engine.store.audit_page(None, limit)?.items),
        remote @ Access::Remote { .. } => {
            let page: Value = remote
                .get(&format!("/api/v1/activity?limit={limit}"))
                .await?;
            serde_json::from_value(page["items"].clone())?
        }
    };
    if entries.is_empty() {
        println!("the audit log is empty");
    }
    print!("{}", render(&entries));
    Ok(ExitCode::SUCCESS)
}

pub async fn verify(config: &Path) -> anyhow::Result<ExitCode> {
    let verdict = match connect(config).await? {
        Access::Local(engine) => report::verify_json(&engine.store.verify_audit()?),
        remote @ Access::Remote { .. } => remote.get::<Value>("/api/v1/audit/verify").await?,
    };
    if verdict["ok"].as_bool() == Some(true) {
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
