//! `demo`: the simulators in-process, the daemon against them, the escalation
//! story narrated for one pairing (`psa_bridge::demo::PAIRINGS`: any two
//! different systems among Autotask, ConnectWise, ServiceNow and Jira), then
//! the audit chain verified. Exit code 0 on success.
//!
//! stdout carries the story only; the daemon's log goes to a file the demo
//! names (`demo.log` in `--store`, else a file in the temporary folder) and
//! only warnings and errors show on stderr.
//!
//! `--serve` then keeps everything running until Ctrl-C / SIGTERM (a clean
//! shutdown, exit 0): a second ticket is escalated, and the demo prints the
//! dashboard URL, the admin token, the simulators' URLs, and `curl`
//! commands for the technician desk ([`psa_bridge::demo::desk_server`]) that
//! change the tickets on either side, so the change can be watched flowing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use psa_bridge::demo::desk_server::{self, Shown};
use psa_bridge::demo::story::Story;
use psa_bridge::demo::{DemoEnv, DemoOptions, System, PAIRINGS};
use psa_bridge::report;
use psa_bridge::store::VerifyReport;

/// What `demo` was asked for.
pub struct DemoArgs {
    pub store: Option<PathBuf>,
    pub internal: System,
    pub msp: Option<System>,
    pub serve: bool,
    pub admin_listen: Option<SocketAddr>,
}

/// Where the daemon's log goes: `demo.log` in a chosen store folder, else
/// a file in the temporary folder that outlives the demo's temporary store.
fn log_path(store: Option<&Path>) -> PathBuf {
    match store {
        Some(dir) => dir.join("demo.log"),
        None => std::env::temp_dir().join(format!("psa-bridge-demo-{}.log", std::process::id())),
    }
}

/// Replaces the generated config's `admin_listen`.
fn set_admin_listen(config: &Path, addr: SocketAddr) -> std::io::Result<()> {
    let text = std::fs::read_to_string(config)?;
    let text = text.replacen(
        "admin_listen = \"127.0.0.1:0\"",
        &format!("admin_listen = \"{addr}\""),
        1,
    );
    std::fs::write(config, text)
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let DemoArgs {
        store,
        internal,
        msp,
        serve,
        admin_listen,
    } = args;
    let msp = msp.unwrap_or_else(|| {
        PAIRINGS
            .iter()
            .find(|p| p.internal == internal)
            .map_or(System::Connectwise, |p| p.msp)
    });
    let temp = tempfile::tempdir()?;
    if let Some(dir) = &store {
        std::fs::create_dir_all(dir)?;
    }
    let log = log_path(store.as_deref());
    super::logging::log_to_file(&log)?;
    let dir = store.unwrap_or_else(|| temp.path().to_path_buf());
    let options = DemoOptions {
        internal,
        msp,
        ..Default::default()
    };
    let env = Arc::new(DemoEnv::start(&dir, &options).await?);
    if let Some(addr) = admin_listen {
        set_admin_listen(&env.config_path, addr)?;
    }
    let (internal_desk, msp_desk, script) = env.desks();
    println!(
        "psa-bridge demo: {} simulator at {}, {} simulator at {}",
        internal_desk.system(),
        env.addr(internal),
        msp_desk.system(),
        env.addr(msp)
    );
    println!("Daemon log: {}", log.display());
    let loaded = psa_bridge::config::load(&env.config_path, &|name| std::env::var(name).ok())?;
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon).await?;
    let mut daemon =
        psa_bridge::daemon::start(loaded, listeners, Arc::new(psa_bridge::clock::SystemClock))
            .await?;
    if serve {
        daemon.reload_on_sighup()?;
    }
    if internal == System::Servicenow || msp == System::Servicenow {
        env.connect_servicenow_notifications(daemon.addr);
    }
    println!(
        "psa-bridge daemon listening on http://{} (webhooks registered with both simulators)\n",
        daemon.addr
    );

    let mut story = Story::new(&env, Duration::from_secs(30), true);
    let played = story.play().await;
    // Let trailing echoes settle before counting writes.
    env.wait_webhooks_idle().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    println!();
    let writes = (internal_desk.bridge_writes(), msp_desk.bridge_writes());
    let expected = script.expected_writes;
    let echo_free = writes == expected;
    println!(
        "Ticket and note writes by the bridge: {} to {}, {} to {} ({}).",
        writes.0,
        internal_desk.system(),
        writes.1,
        msp_desk.system(),
        if echo_free {
            "exactly the story's changes, no echoes".to_string()
        } else {
            format!(
                "UNEXPECTED: the story needs {} and {}",
                expected.0, expected.1
            )
        }
    );
    let audit_ticket = format!("{}:{}", internal.connection(), story.internal_number);
    let history = report::ticket_history(&daemon.engine.store, &audit_ticket)?;
    let (intake, decisions): (Vec<_>, Vec<_>) =
        history.into_iter().partition(|e| e.kind == "intake");
    println!(
        "\nAudit trail of {audit_ticket} on both sides ({} change notices not shown; `psa-bridge audit --ticket` shows all):",
        intake.len()
    );
    print!("{}", report::render_history(&decisions));
    let verdict = daemon.engine.store.verify_audit()?;

    let failure = if let Err(e) = played {
        Some(format!("demo failed: {e}"))
    } else if !echo_free {
        Some(format!(
            "demo failed: the bridge wrote {writes:?}, expected {expected:?}"
        ))
    } else if let VerifyReport::Broken { seq, reason } = &verdict {
        Some(format!("audit chain broken at entry #{seq}: {reason}"))
    } else {
        None
    };
    if let VerifyReport::Intact { entries, head } = &verdict {
        println!("\nAudit chain verified: {entries} entries, intact (head sha256 {head}).");
    }
    if let Some(failure) = failure {
        daemon.shutdown().await;
        eprintln!("\n{failure}");
        println!("Daemon log: {}", log.display());
        return Ok(ExitCode::FAILURE);
    }
    println!("Demo complete: both tickets closed, notes and fields in sync.");
    if serve {
        let served = keep_serving(&env, &daemon, internal, msp).await;
        daemon.shutdown().await;
        served?;
        println!("Stopped.");
    } else {
        daemon.shutdown().await;
    }
    println!("Daemon log: {}", log.display());
    Ok(ExitCode::SUCCESS)
}

/// `--serve`: escalates a ticket to play with, prints where everything is
/// and what to type, and waits for Ctrl-C or SIGTERM.
async fn keep_serving(
    env: &Arc<DemoEnv>,
    daemon: &psa_bridge::daemon::Daemon,
    internal: System,
    msp: System,
) -> anyhow::Result<()> {
    // Listening before anything is printed: a SIGTERM sent as soon as the
    // commands show is a clean stop.
    let stop = stop_signal();
    println!("\nA second ticket, for you to change:");
    let mut live = Story::new(env, Duration::from_secs(30), true);
    live.escalate().await?;
    let desk = desk_server::serve(
        env.clone(),
        vec![
            Shown {
                system: internal,
                id: live.internal_id.clone(),
            },
            Shown {
                system: msp,
                id: live.msp_id.clone(),
            },
        ],
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    )?;
    let loaded = psa_bridge::config::load(&env.config_path, &|name| std::env::var(name).ok())?;
    let (token, _) = psa_bridge::admin::token::resolve(&loaded)?;
    let admin = daemon.admin_addr;
    let script = live.script;
    let (internal_name, msp_name) = (internal.connection(), msp.connection());
    let (internal_url, msp_url) = (
        format!("http://{desk}/{internal_name}/tickets/{}", live.internal_id),
        format!("http://{desk}/{msp_name}/tickets/{}", live.msp_id),
    );
    let (i, m) = (env.desk(internal), env.desk(msp));
    println!(
        "\nThe demo keeps running until Ctrl-C (or SIGTERM).\n\
         Dashboard:    http://{admin}/\n\
         Admin token:  {token}\n\
         Admin API:    curl -s -H 'Authorization: Bearer {token}' http://{admin}/api/v1/status\n\
         Simulators:   {} http://{}  {} http://{}\n\
         Desk:         http://{desk}/  (acts as a person in each system's UI; changes fire its webhooks)\n\
         Config:       {}  (edit it, then reload: kill -HUP {})\n",
        i.system(),
        env.addr(internal),
        m.system(),
        env.addr(msp),
        env.config_path.display(),
        std::process::id(),
    );
    println!("Change a ticket as a technician would, then watch the other side:");
    let commands = [
        (
            format!(
                "{} tech raises the priority of {} (reaches {} as {})",
                i.system(),
                live.internal_number,
                m.system(),
                script.msp_critical
            ),
            format!(
                "curl -s -X POST {internal_url}/priority -d '{}'",
                script.internal_critical
            ),
        ),
        (
            format!(
                "{} engineer starts work on {} (reaches {} as {})",
                m.system(),
                live.msp_number,
                i.system(),
                script.internal_in_progress
            ),
            format!(
                "curl -s -X POST {msp_url}/status -d '{}'",
                script.msp_in_progress
            ),
        ),
        (
            format!("{} engineer writes to the customer", m.system()),
            format!("curl -s -X POST {msp_url}/notes -d 'On site at 14:00 to replace the router.'"),
        ),
        (
            format!("{} tech replies", i.system()),
            format!(
                "curl -s -X POST {internal_url}/notes -d 'Thanks, reception knows you are coming.'"
            ),
        ),
        (
            "Both tickets as each side sees them".to_string(),
            format!("curl -s {internal_url} ; curl -s {msp_url}"),
        ),
    ];
    for (what, command) in commands {
        println!("  # {what}\n  {command}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    stop.await;
    tracing::info!("stopping the demo");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; both are listened to from the call on.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let interrupt = tokio::spawn(tokio::signal::ctrl_c());
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt => {}
            }
            return;
        }
        let _ = interrupt.await;
    }
}
