//! Command-line interface: `run`, `check`, `outbox`, `links`, `pairings`, `audit`,
//! `backfill`, `webhooks`, `healthcheck`, `simulate`, `demo`, `report`, `keys`.

mod access;
mod backfill;
mod check;
mod demo;
mod healthcheck;
mod inspect;
mod keys;
mod links;
mod logging;
mod memory;
mod pairings;
mod report;
mod run;
mod simulate;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Keeps tickets in sync between PSA and ITSM systems (Autotask, ConnectWise PSA, ServiceNow, Jira).
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
    /// deliveries may finish); a second signal exits at once. SIGHUP reloads
    /// the configuration: validated first (as `check --offline`); a file
    /// with errors, or one that changes a restart-only setting (store,
    /// listeners, admin token and hosts, public_url, register_webhooks,
    /// shutdown_timeout_secs), is refused and the running configuration
    /// stays (reason logged, in /healthz `config.last_reload` and audited).
    #[command(
        after_help = "Exit codes: 0 after a shutdown (SIGTERM / Ctrl-C), also when the \
        deadline left deliveries in the outbox (the next start completes them); \
        1 the final flush failed; \
        2 configuration or start-up error; \
        3 the store cannot be used as it is (damaged, not a psa-bridge store, \
        written by a newer psa-bridge, unreadable); \
        4 the store failed to write (disk full, read-only) and the disk is writable \
        again: restart psa-bridge (e.g. systemd Restart=on-failure) to recover; \
        128 + the signal's number (143 SIGTERM, 130 Ctrl-C) when a second signal \
        ended the shutdown at once."
    )]
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
    /// List, unlink and link tickets the bridge keeps in sync (through the
    /// running daemon's admin API and its token, like `outbox`).
    Links {
        /// Configuration file (also from PSA_BRIDGE_CONFIG).
        #[arg(long, short, global = true, env = "PSA_BRIDGE_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: links::LinksCommand,
    },
    /// List the pairings (with their pause state), pause one (its changes
    /// wait in the outbox) or resume it (through the running daemon's admin
    /// API and its token, like `outbox`).
    Pairings {
        /// Configuration file (also from PSA_BRIDGE_CONFIG).
        #[arg(long, short, global = true, env = "PSA_BRIDGE_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: pairings::PairingsCommand,
    },
    /// Read or verify the hash-chained audit log (through the running daemon's
    /// admin API and its token, like `outbox`). Without --ticket or `verify`:
    /// the most recent entries.
    Audit {
        /// Configuration file (also from PSA_BRIDGE_CONFIG).
        #[arg(long, short, global = true, env = "PSA_BRIDGE_CONFIG")]
        config: Option<PathBuf>,
        /// One ticket's history on both sides, as CONNECTION:TICKET (id or number).
        #[arg(long)]
        ticket: Option<String>,
        /// How many recent entries to show (without --ticket).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(subcommand)]
        command: Option<AuditCommand>,
    },
    /// Write a pairing's period report (report.md, report.csv: one row per
    /// escalated ticket) and its evidence bundle (evidence-bundle.json: the
    /// pairing's audit entries of the period, other pairings' only as
    /// hashes), optionally signed. Reads the store, or the running daemon's
    /// admin API (token as for `outbox`).
    #[command(after_help = report::AFTER_HELP)]
    Report(report::ReportArgs),
    /// Ed25519 keys for signing evidence bundles.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Link tickets that met a pairing's trigger before the bridge saw them
    /// (tickets older than the bridge or the pairing), and far tickets the
    /// bridge created whose link was lost (found by marker).
    #[command(
        after_help = "For each ticket of the trigger side changed since --since: already \
        linked → skipped; not meeting the trigger → skipped; a far ticket carrying the \
        marker of the bridge's write-back note on it → linked (audited backfill_linked); \
        else escalated by the planner as a live change would be (audited \
        backfill_escalated). Safe to interrupt and run again: nothing is created twice. \
        While the daemon runs it does the work (admin API, token as for `outbox`); \
        otherwise the CLI plans with the store itself and the daemon delivers the \
        creates when it starts. Exit codes: 0 every ticket handled, 1 some tickets \
        failed (listed with reasons), 2 bad arguments, or the run failed or was cut off."
    )]
    Backfill {
        /// Configuration file (also from PSA_BRIDGE_CONFIG).
        #[arg(long, short, env = "PSA_BRIDGE_CONFIG")]
        config: Option<PathBuf>,
        /// The pairing whose trigger side is looked at.
        #[arg(long)]
        pairing: String,
        /// Oldest change to look at: RFC 3339 (2026-11-01T08:00:00Z) or YYYY-MM-DD (midnight UTC).
        #[arg(long)]
        since: String,
        /// List what would be done; write nothing to the store or any vendor.
        #[arg(long)]
        dry_run: bool,
        /// One JSON document (tickets and summary) on stdout instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Register, inspect or remove a connection's webhook on the vendor side
    /// (talks to the vendor directly; the daemon need not run).
    #[command(after_help = webhooks::EXIT_CODES)]
    Webhooks {
        #[arg(value_enum)]
        action: webhooks::Action,
        /// The connection (a key under [connections]).
        #[arg(long)]
        connection: String,
        /// Configuration file (also from PSA_BRIDGE_CONFIG).
        #[arg(long, short, env = "PSA_BRIDGE_CONFIG")]
        config: PathBuf,
        /// One JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
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
    /// Ask the running daemon whether it is healthy (exit 0) or not (exit 1):
    /// the container image's HEALTHCHECK. Needs no token.
    Healthcheck {
        /// Configuration file (also from PSA_BRIDGE_CONFIG): the daemon's
        /// recorded admin address, else daemon.admin_listen.
        #[arg(long, short, env = "PSA_BRIDGE_CONFIG")]
        config: Option<PathBuf>,
        /// Admin listener base URL instead (e.g. http://127.0.0.1:9180).
        #[arg(long)]
        url: Option<String>,
        /// Ask /readyz (store writable, vendors reachable) instead of /healthz
        /// (process up, tasks running).
        #[arg(long)]
        ready: bool,
    },
    /// Play the escalation story on built-in simulators and verify the audit
    /// chain. Prints the story; the daemon's log goes to a file it names
    /// (only warnings and errors show).
    Demo {
        /// Keep the demo's store in this folder instead of a temporary one.
        #[arg(long)]
        store: Option<PathBuf>,
        /// The internal team's system. Every direction between two different
        /// systems is played: autotask, connectwise, servicenow or jira on
        /// either side (12 directions).
        #[arg(long, value_enum, default_value_t = psa_bridge::demo::System::Autotask)]
        internal: psa_bridge::demo::System,
        /// The MSP's system, different from the internal one (default:
        /// connectwise; autotask for jira and for connectwise).
        #[arg(long, value_enum)]
        msp: Option<psa_bridge::demo::System>,
        /// After the story, keep the simulators, the daemon, the admin API
        /// and the dashboard running (until Ctrl-C or SIGTERM) and print
        /// their URLs, the admin token and commands that change tickets on
        /// either side, to watch the changes flow.
        #[arg(long)]
        serve: bool,
        /// Where the admin API and dashboard listen with --serve (default:
        /// a free port on 127.0.0.1).
        #[arg(long, requires = "serve")]
        admin_listen: Option<std::net::SocketAddr>,
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
    /// Remove a dead letter (operation or notice) for good, unblocking what
    /// waits behind it; audited with the reason.
    Discard {
        id: u64,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain and say where it breaks; with --bundle,
    /// check an evidence bundle offline instead (no store, no configuration).
    #[command(
        after_help = "With --bundle, exit codes: 0 the chain is intact and every --public-key \
        signed it; 1 the bundle is unreadable, of another format version, broken (the first \
        bad entry is named: altered, reordered, removed, inserted), unsigned while a key was \
        given, or not signed by a given key (named), or (--against-store) differs from the \
        store's chain; 2 a key file, the configuration or the store cannot be used."
    )]
    Verify {
        /// An evidence bundle written by `report`.
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        /// A public key (`keys generate`) that must have signed the bundle; repeatable.
        #[arg(long = "public-key", value_name = "FILE", requires = "bundle")]
        public_key: Vec<PathBuf>,
        /// Also compare the bundle with this bridge's chain (store or running
        /// daemon, from --config): every entry, stub, anchor and head must be
        /// the store's. What makes an unsigned bundle evidence.
        #[arg(long, requires = "bundle")]
        against_store: bool,
    },
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
    memory::limit_malloc_arenas();
    let cli = Cli::parse();
    // The demo tells its story on stdout; its logs go to a file it names.
    logging::init(cli.log_format, matches!(cli.command, Command::Demo { .. }));
    // The store, its token and address files hold data: owner-only.
    psa_bridge::store::owner_only_umask();
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
            Command::Run { config } => run::run(config).await,
            Command::Check { config, offline } => check::check(&config, offline).await,
            Command::Outbox { config, command } => {
                let config = required(config)?;
                match command {
                    OutboxCommand::List => inspect::outbox(&config, false).await,
                    OutboxCommand::Dead => inspect::outbox(&config, true).await,
                    OutboxCommand::Retry { id } => inspect::retry(&config, id).await,
                    OutboxCommand::Discard { id, reason } => {
                        inspect::discard(&config, id, reason.as_deref()).await
                    }
                }
            }
            Command::Links { config, command } => links::run(&required(config)?, command).await,
            Command::Pairings { config, command } => {
                pairings::run(&required(config)?, command).await
            }
            Command::Audit {
                config,
                ticket,
                limit,
                command,
            } => match (command, ticket) {
                (
                    Some(AuditCommand::Verify {
                        bundle: Some(bundle),
                        public_key,
                        against_store,
                    }),
                    _,
                ) => {
                    let store_config = match against_store {
                        true => Some(required(config)?),
                        false => None,
                    };
                    report::verify_bundle(&bundle, &public_key, store_config.as_deref()).await
                }
                (Some(AuditCommand::Verify { bundle: None, .. }), _) => {
                    inspect::verify(&required(config)?).await
                }
                (None, Some(ticket)) => inspect::history(&required(config)?, &ticket).await,
                (None, None) => inspect::recent(&required(config)?, limit).await,
            },
            Command::Report(args) => report::report(args).await,
            Command::Keys { command } => keys::run(command),
            Command::Backfill {
                config,
                pairing,
                since,
                dry_run,
                json,
            } => backfill::backfill(&required(config)?, &pairing, &since, dry_run, json).await,
            Command::Webhooks {
                action,
                connection,
                config,
                json,
            } => webhooks::webhooks(&config, &connection, action, json).await,
            Command::Simulate {
                vendor,
                listen,
                faults,
            } => simulate::simulate(vendor, listen, faults).await,
            Command::Healthcheck { config, url, ready } => {
                let probe = if ready {
                    healthcheck::Probe::Ready
                } else {
                    healthcheck::Probe::Live
                };
                healthcheck::healthcheck(config.as_deref(), url.as_deref(), probe).await
            }
            Command::Demo {
                store,
                internal,
                msp,
                serve,
                admin_listen,
            } => {
                demo::demo(demo::DemoArgs {
                    store,
                    internal,
                    msp,
                    serve,
                    admin_listen,
                })
                .await
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if store_unusable(&e) {
                ExitCode::from(STORE_UNUSABLE)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// Exit code when the store directory is refused as it is (see
/// [`psa_bridge::store::StoreError::is_unusable_store`]).
const STORE_UNUSABLE: u8 = 3;

fn store_unusable(e: &anyhow::Error) -> bool {
    use psa_bridge::daemon::DaemonError;
    use psa_bridge::store::StoreError;
    e.chain().any(|cause| {
        cause
            .downcast_ref::<StoreError>()
            .is_some_and(StoreError::is_unusable_store)
            || matches!(
                cause.downcast_ref::<DaemonError>(),
                Some(DaemonError::Store(s)) if s.is_unusable_store()
            )
    })
}

fn required(config: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    config.ok_or_else(|| anyhow::anyhow!("give --config FILE (or set PSA_BRIDGE_CONFIG)"))
}
