//! `webhooks register|status|remove --connection X`: the vendor side of a
//! connection's webhook, handled directly with the connection's
//! configuration (no daemon needed). The URL is the one the daemon
//! registers: `daemon.public_url` (or `http://` + `daemon.listen`) +
//! `/webhooks/{connection}`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use psa_connector::{ApiBudget, Connector, ConnectorError, WebhookStatus};
use serde_json::json;

/// Healthy / done.
const OK: u8 = 0;
/// `status`: missing, inactive or incomplete (`register` repairs it).
const NEEDS_REPAIR: u8 = 1;
/// Configuration or usage error (unknown connection, no webhook URL).
const CONFIG: u8 = 2;
/// The vendor could not be asked or answered with an error or nonsense.
const VENDOR: u8 = 5;
/// The vendor's hook cannot be handled by the bridge (ServiceNow).
const UNSUPPORTED: u8 = 6;

/// Exit codes, for `--help`.
pub const EXIT_CODES: &str = "Exit codes: 0 registered / healthy / removed; \
    1 (status) not registered, inactive or incomplete: `register` repairs it; \
    2 configuration error (unknown connection, no webhook URL: set daemon.public_url); \
    5 the vendor could not be reached or answered with an error or an unreadable answer; \
    6 the vendor's notification is set up by an administrator (ServiceNow): \
    the status says how to check it by hand.";

/// Longest wait for the vendor in one command.
const VENDOR_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    Register,
    Status,
    Remove,
}

fn fail(json: bool, connection: &str, code: u8, message: &str) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({"connection": connection, "ok": false, "error": message})
        );
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::from(code)
}

pub async fn webhooks(
    config: &Path,
    connection: &str,
    action: Action,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let loaded = psa_bridge::config::load(config, &|name| std::env::var(name).ok())?;
    let Some(conn) = loaded.config.connections.get(connection) else {
        let known: Vec<&String> = loaded.config.connections.keys().collect();
        let message =
            format!("no connection {connection:?} in the configuration (known: {known:?})");
        return Ok(fail(json, connection, CONFIG, &message));
    };
    let url = match psa_bridge::daemon::configured_webhook_url(&loaded.config.daemon, connection) {
        Ok(url) => url,
        Err(message) => return Ok(fail(json, connection, CONFIG, &message)),
    };
    if action == Action::Register && !conn.webhooks {
        let message = format!(
            "connections.{connection}.webhooks is false: the daemon would refuse the deliveries; enable it first"
        );
        return Ok(fail(json, connection, CONFIG, &message));
    }
    let connector = match psa_bridge::connections::build_connector(connection, conn) {
        Ok(c) => c,
        Err(e) => return Ok(fail(json, connection, CONFIG, &e.to_string())),
    };
    let outcome = tokio::time::timeout(VENDOR_TIMEOUT, run(&*connector, action, &url)).await;
    let (status, removed) = match outcome {
        Err(_) => {
            let message = format!("the vendor did not answer within {VENDOR_TIMEOUT:?}");
            return Ok(fail(json, connection, VENDOR, &message));
        }
        Ok(Err(e)) => {
            let code = match e {
                ConnectorError::Config(_) => CONFIG,
                _ => VENDOR,
            };
            return Ok(fail(json, connection, code, &e.to_string()));
        }
        Ok(Ok(done)) => done,
    };
    let budget = connector.budget();
    let code = if !status.supported {
        UNSUPPORTED
    } else if action == Action::Status && status.needs_repair() {
        NEEDS_REPAIR
    } else {
        OK
    };
    if json {
        let out = json!({
            "connection": connection,
            "vendor": connector.vendor(),
            "action": format!("{action:?}").to_ascii_lowercase(),
            "url": url,
            "ok": code == OK,
            "removed": removed,
            "status": status,
            "budget": budget,
        });
        println!("{out}");
    } else {
        print_human(
            connection,
            connector.vendor(),
            action,
            &status,
            removed,
            budget.as_ref(),
        );
    }
    Ok(ExitCode::from(code))
}

/// The action, then the status the vendor reports afterwards.
async fn run(
    connector: &dyn Connector,
    action: Action,
    url: &str,
) -> Result<(WebhookStatus, Option<usize>), ConnectorError> {
    let before = connector.webhook_status(url).await?;
    if !before.supported {
        return Ok((before, None));
    }
    let removed = match action {
        Action::Status => return Ok((before, None)),
        Action::Register => {
            connector.register_webhook(url).await?;
            None
        }
        Action::Remove => Some(connector.remove_webhook(url).await?),
    };
    Ok((connector.webhook_status(url).await?, removed))
}

fn print_human(
    connection: &str,
    vendor: &str,
    action: Action,
    status: &WebhookStatus,
    removed: Option<usize>,
    budget: Option<&ApiBudget>,
) {
    println!("{connection} ({vendor}): {}", status.url);
    if !status.supported {
        println!("  the bridge cannot inspect this vendor's notification");
    } else {
        match (action, removed) {
            (Action::Remove, Some(n)) => println!("  removed {n} webhook(s)"),
            (Action::Register, _) => println!("  registered"),
            _ => {}
        }
        let state = if status.healthy() {
            "registered and active"
        } else if status.registered() {
            "registered, needs repair (run `webhooks register`)"
        } else {
            "not registered"
        };
        println!("  state: {state}");
    }
    for hook in &status.hooks {
        println!(
            "  {} {} {}: events {}{}{}",
            hook.kind,
            hook.id,
            if hook.active { "active" } else { "INACTIVE" },
            hook.events.join(","),
            if hook.fields.is_empty() {
                String::new()
            } else {
                format!("; fields {}", hook.fields.join(","))
            },
            if hook.excluded_resources.is_empty() {
                String::new()
            } else {
                format!("; excludes resource {}", hook.excluded_resources.join(","))
            },
        );
    }
    if action != Action::Remove {
        for problem in &status.problems {
            println!("  problem: {problem}");
        }
    }
    if let Some(note) = &status.note {
        println!("  note: {note}");
    }
    if let Some(b) = budget {
        println!(
            "  tenant API budget: {} of {} requests in {} min used; bridge share {}; {:?}",
            b.used, b.threshold, b.window_minutes, b.share, b.state
        );
    }
}
