//! `links list|unlink|relink`: the bridge's links between tickets, through
//! the running daemon's `/api/v1/links` or the store directly when the
//! daemon is stopped.

use std::path::Path;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use psa_bridge::admin::links::{self, LinkPage, LinkView};
use psa_bridge::store::Side;
use serde_json::json;

use super::access::{connect, escape, Access, Answer};

#[derive(Subcommand)]
pub enum LinksCommand {
    /// Links, oldest first, a page at a time.
    List {
        /// Only this pairing's links.
        #[arg(long)]
        pairing: Option<String>,
        /// Only links where either side's ticket id or number is this.
        #[arg(long)]
        q: Option<String>,
        /// Links per page (1 to 500).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Continue after a previous page (the value it printed).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Stop syncing two tickets: the link, its pending operations and notes
    /// map are removed; neither ticket is escalated again until relinked.
    Unlink {
        id: u64,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Link two existing tickets; the next plan copies the
    /// --from side's mapped fields (default: the pairing's trigger side) to
    /// the other; notes already on them are not copied.
    Relink {
        /// The pairing (as named in the configuration).
        #[arg(long)]
        pairing: String,
        /// Ticket on side a: its id, or a number the bridge has seen.
        a: String,
        /// Ticket on side b, likewise.
        b: String,
        /// The side whose values win.
        #[arg(long, value_enum)]
        from: Option<LinkSide>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LinkSide {
    A,
    B,
}

/// Runs one `links` subcommand.
pub async fn run(config: &Path, command: LinksCommand) -> anyhow::Result<ExitCode> {
    match command {
        LinksCommand::List {
            pairing,
            q,
            limit,
            cursor,
        } => {
            list(
                config,
                pairing.as_deref(),
                q.as_deref(),
                limit,
                cursor.as_deref(),
            )
            .await
        }
        LinksCommand::Unlink { id, reason } => unlink(config, id, reason.as_deref()).await,
        LinksCommand::Relink {
            pairing,
            a,
            b,
            from,
        } => {
            let from = from.map(|f| match f {
                LinkSide::A => Side::A,
                LinkSide::B => Side::B,
            });
            relink(config, &pairing, &a, &b, from).await
        }
    }
}

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
    if let Some(warning) = &link.out_of_scope {
        println!("         {warning}");
    }
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
