//! `links list|unlink|relink`: the bridge's links between tickets, through
//! the running daemon's `/api/v1/links` or the store directly when the
//! daemon is stopped.

use std::path::Path;
use std::process::ExitCode;

use psa_bridge::admin::links::{self, LinkPage, LinkView};
use psa_bridge::store::Side;
use serde_json::json;

use super::access::{connect, escape, Access, Answer};

fn side(view: &Option<links::TicketView>) -> String {
    match view {
        Some(t) => format!("{}:{} ({})", t.connection, t.number, t.id),
        None => "(not created yet)".to_string(),
    }
}

fn print_link(link: &LinkView) {
    println!(
        "{:<8} {:<14} {:<36} <-> {}",
        link.id,
        link.pairing,
        side(&link.a),
        side(&link.b)
    );
}

/// `links list [--pairing P] [--q TEXT] [--limit N] [--cursor C]`.
pub async fn list(
    config: &Path,
    pairing: Option<&str>,
    q: Option<&str>,
    limit: usize,
    cursor: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let page: LinkPage = match connect(config).await? {
        Access::Local(engine) => {
            let cursor = cursor
                .map(|c| c.parse::<u64>())
                .transpose()
                .map_err(|_| anyhow::anyhow!("--cursor takes the value a previous page printed"))?;
            links::page(&engine, pairing, q, limit, cursor)
                .map_err(|e| anyhow::anyhow!(e.message))?
        }
        remote @ Access::Remote { .. } => {
            let mut query = format!("limit={limit}");
            for (name, value) in [("pairing", pairing), ("q", q), ("cursor", cursor)] {
                if let Some(value) = value {
                    query.push_str(&format!("&{name}={}", escape(value)));
                }
            }
            remote.get(&format!("/api/v1/links?{query}")).await?
        }
    };
    if page.items.is_empty() {
        println!("no links");
    }
    for link in &page.items {
        print_link(link);
    }
    if let Some(next) = page.next_cursor {
        println!("more: --cursor {next}");
    }
    Ok(ExitCode::SUCCESS)
}

fn refused(message: String) -> anyhow::Result<ExitCode> {
    eprintln!("{message}");
    Ok(ExitCode::from(1))
}

/// `links unlink ID [--reason R]`.
pub async fn unlink(config: &Path, id: u64, reason: Option<&str>) -> anyhow::Result<ExitCode> {
    let view: LinkView = match connect(config).await? {
        Access::Local(engine) => match engine.unlink_by_operator(id, reason).await {
            Ok((link, _)) => LinkView::of(&engine, &link),
            Err(e) => return refused(e.to_string()),
        },
        remote @ Access::Remote { .. } => {
            let path = format!("/api/v1/links/{id}/unlink");
            match remote.post(&path, &json!({ "reason": reason })).await? {
                Answer::Done(v) => serde_json::from_value(v)?,
                Answer::NotFound(m) | Answer::Refused(m) => return refused(m),
            }
        }
    };
    print!("unlinked: ");
    print_link(&view);
    Ok(ExitCode::SUCCESS)
}

/// `links relink --pairing P A B [--from a|b]`.
pub async fn relink(
    config: &Path,
    pairing: &str,
    a: &str,
    b: &str,
    from: Option<Side>,
) -> anyhow::Result<ExitCode> {
    let view: LinkView = match connect(config).await? {
        Access::Local(engine) => match engine.relink(pairing, a, b, from).await {
            Ok(link) => LinkView::of(&engine, &link),
            Err(e) => return refused(e.to_string()),
        },
        remote @ Access::Remote { .. } => {
            let body = json!({ "pairing": pairing, "a": a, "b": b, "from": from });
            match remote.post("/api/v1/links", &body).await? {
                Answer::Done(v) => serde_json::from_value(v)?,
                Answer::NotFound(m) | Answer::Refused(m) => return refused(m),
            }
        }
    };
    print!("linked: ");
    print_link(&view);
    Ok(ExitCode::SUCCESS)
}
