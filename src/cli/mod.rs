//! Command-line interface: `run`, `check`, `outbox`, `audit`, `simulate`, `demo`.

mod access;
mod check;
mod demo;
mod inspect;
mod logging;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Keeps tickets in sync between PSA and ITSM systems (Autotask, ConnectWise PSA).
#[derive(Parser)]
#[command(name = "psa-bridge", version, about, long_about = None)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "human",
        env = "PSA_BRIDGE_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon. SIGTERM or Ctrl-C stops it within
    /// daemon.shutdown_timeout_secs (new webhooks get 503, in-flight
    /// deliveries may finish); a second signal exits at once.
    Run {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate the configuration and mappings without starting anything
    /// (asks each vendor for its statuses and priorities unless --offline).
    Check {
        #[arg(long, short)]
        config: PathBuf,
        /// Skip the checks that ask the vendors.
        #[arg(long)]
        offline: bool,
    },
    /// Inspect and re-queue outbox operations. While the daemon runs, this uses
    /// its admin API with the token from PSA_BRIDGE_ADMIN_TOKEN,
    /// daemon.admin_token or the daemon's <store_path>.token file.
    Outbox {
        /// Configuration file (also from PSA_BRIDGE_CONFIG).
        #[arg(long, short, global = true, env = "PSA_BRIDGE_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Read or verify the hash-chained audit log (through the running daemon's
    /// admin API and its token, like `outbox`).
    Audit {
        /// Configuration file (also from PSA_BRIDGE_CONFIG).
        #[arg(long, short, global = true, env = "PSA_BRIDGE_CONFIG")]
        config: Option<PathBuf>,
        /// One ticket's history on both sides, as CONNECTION:TICKET (id or number).
        #[arg(long)]
        ticket: Option<String>,
        #[command(subcommand)]
        command: Option<AuditCommand>,
    },
    /// Run a vendor simulator standalone, to try a configuration without a tenant.
    Simulate {
        #[arg(value_enum)]
        vendor: SimVendor,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        faults: simulate::Faults,
    },
    /// Play the escalation story on built-in simulators and verify the audit chain.
    Demo {
        /// Keep the demo's store in this folder instead of a temporary one.
        #[arg(long)]
        store: Option<PathBuf>,
        /// The internal team's system. Pairs played: autotask with
        /// connectwise, servicenow with connectwise, jira with autotask.
        #[arg(long, value_enum, default_value_t = psa_bridge::demo::System::Autotask)]
        internal: psa_bridge::demo::System,
        /// The MSP's system (default: the one the internal system pairs with).
        #[arg(long, value_enum)]
        msp: Option<psa_bridge::demo::System>,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Pending and dead operations (and what waits behind each dead one),
    /// and change notices that could not be planned.
    List,
    /// Dead letters with the vendor's message: operations, and change
    /// notices that could not be planned.
    Dead,
    /// Retry a dead letter after fixing its cause. A field update is planned
    /// again from both tickets' current state (its old payload is dropped);
    /// a create or note is re-queued as is (idempotent by marker); a dead
    /// notice goes back to the inbox.
    Retry { id: u64 },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain and say where it breaks.
    Verify,
}

#[derive(Clone, Copy, ValueEnum)]
enum SimVendor {
    Autotask,
    Connectwise,
    Servicenow,
    Jira,
}

/// Parses arguments, runs the command and turns errors into exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run { config } => run(config).await,
            Command::Check { config, offline } => check::check(&config, offline).await,
            Command::Outbox { config, command } => {
                let config = required(config)?;
                match command {
                    OutboxCommand::List => inspect::outbox(&config, false).await,
                    OutboxCommand::Dead => inspect::outbox(&config, true).await,
                    OutboxCommand::Retry { id } => inspect::retry(&config, id).await,
                }
            }
            Command::Audit {
                config,
                ticket,
                command,
            } => {
                let config = required(config)?;
                match (command, ticket) {
                    (Some(AuditCommand::Verify), _) => inspect::verify(&config).await,
                    (None, Some(ticket)) => inspect::history(&config, &ticket).await,
                    (None, None) => Err(anyhow::anyhow!(
                        "give --ticket CONNECTION:TICKET or the `verify` subcommand"
                    )),
                }
            }
            Command::Simulate {
                vendor,
                listen,
                faults,
            } => simulate::simulate(vendor, listen, faults).await,
            Command::Demo {
                store,
                internal,
                msp,
            } => demo::demo(store, internal, msp).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn required(config: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    config.ok_or_else(|| anyhow::anyhow!("give --config FILE (or set PSA_BRIDGE_CONFIG)"))
}

/// `run`: start the daemon and serve until Ctrl-C / SIGTERM, then stop
/// within `daemon.shutdown_timeout_secs` (exit 0, also when the deadline
/// left deliveries in the outbox; 1 if the final flush failed). A second
/// signal exits at once, after a best-effort flush, with 128 + the signal's
/// number.
async fn run(config: PathBuf) -> anyhow::Result<ExitCode> {
    let loaded = psa_bridge::config::load(&config, &|name| std::env::var(name).ok())?;
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon).await?;
    let mut signals = Signals::new();
    let daemon = psa_bridge::daemon::start(
        loaded,
        listeners,
        std::sync::Arc::new(psa_bridge::clock::SystemClock),
    )
    .await?;
    println!("psa-bridge listening on http://{}", daemon.addr);
    if let Some(metrics) = daemon.metrics_addr {
        println!("psa-bridge metrics on http://{metrics}/metrics");
    }
    println!("psa-bridge admin API on http://{}", daemon.admin_addr);
    let first = signals.next().await;
    tracing::info!(
        signal = first,
        "shutting down (a second signal exits at once)"
    );
    let engine = daemon.engine.clone();
    tokio::select! {
        // The deadline is not a failure (what was left is completed by the
        // next start); a failed final flush is.
        report = daemon.shutdown() => Ok(if report.flush_failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }),
        second = signals.next() => {
            tracing::warn!(signal = second, "second signal: exiting at once; deliveries in flight stay in the outbox");
            if tokio::time::timeout(std::time::Duration::from_secs(2), engine.store.flush())
                .await
                .map_or(true, |r| r.is_err())
            {
                tracing::error!("the best-effort flush failed or timed out");
            }
            std::process::exit(128 + second);
        }
    }
}

/// SIGTERM and SIGINT (Ctrl-C), listened to from start-up on, so a second
/// signal during the shutdown is seen too.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Waits for the next signal; its number (15 SIGTERM, 2 SIGINT).
    async fn next(&mut self) -> i32 {
        #[cfg(unix)]
        {
            async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            if self.term.is_none() && self.int.is_none() {
                let _ = tokio::signal::ctrl_c().await;
                return 2;
            }
            tokio::select! {
                _ = recv(&mut self.term) => 15,
                _ = recv(&mut self.int) => 2,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            2
        }
    }
}
