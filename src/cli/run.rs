//! `run`: the daemon in the foreground until Ctrl-C / SIGTERM (a drained
//! shutdown; a second signal exits at once), SIGHUP reloading the
//! configuration, and the exit code that tells a service manager whether a
//! restart can help (a store that failed to write recovers in a new process).

use std::path::PathBuf;
use std::process::ExitCode;

/// `run`: start the daemon and serve until Ctrl-C / SIGTERM, then stop
/// within `daemon.shutdown_timeout_secs` (exit 0, also when the deadline
/// left deliveries in the outbox; 1 if the final flush failed). A second
/// signal exits at once, after a best-effort flush, with 128 + the signal's
/// number.
pub async fn run(config: PathBuf) -> anyhow::Result<ExitCode> {
    let loaded = psa_bridge::config::load(&config, &|name| std::env::var(name).ok())?;
    let store_path = loaded.store_path.clone();
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon).await?;
    let mut signals = Signals::new();
    let mut daemon = psa_bridge::daemon::start(
        loaded,
        listeners,
        std::sync::Arc::new(psa_bridge::clock::SystemClock),
    )
    .await?;
    daemon.reload_on_sighup()?;
    // Test-only: lets end-to-end tests fail store writes while a file exists.
    if let Some(file) = std::env::var_os(psa_bridge::store::FAULT_FILE_ENV) {
        tracing::warn!(file = ?file, "TEST ONLY: store writes fail while this file exists ({})", psa_bridge::store::FAULT_FILE_ENV);
        daemon
            .engine
            .store
            .faults()
            .fail_while_file_exists(Some(file.into()));
    }
    println!("psa-bridge listening on http://{}", daemon.addr);
    if let Some(metrics) = daemon.metrics_addr {
        println!("psa-bridge metrics on http://{metrics}/metrics");
    }
    println!("psa-bridge admin API on http://{}", daemon.admin_addr);
    let store = daemon.engine.store.clone();
    let store_failed = tokio::select! {
        first = signals.next() => {
            tracing::info!(signal = first, "shutting down (a second signal exits at once)");
            None
        }
        error = store_recoverable_by_restart(&store, &store_path) => {
            eprintln!("error: the store failed to write ({error}); the disk is writable again, \
                exiting so that the service manager restarts psa-bridge (exit code {STORE_RESTART})");
            Some(ExitCode::from(STORE_RESTART))
        }
    };
    let engine = daemon.engine.clone();
    tokio::select! {
        // The deadline is not a failure (what was left is completed by the
        // next start); a failed final flush is.
        report = daemon.shutdown() => Ok(match store_failed {
            Some(code) => code,
            None if report.flush_failed => ExitCode::FAILURE,
            None => ExitCode::SUCCESS,
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

/// Exit code when sled reported a write error it cannot recover from in
/// place and the disk is writable again: a restart recovers the store.
const STORE_RESTART: u8 = 4;

/// Resolves (with the store's last error) once sled has reported a real
/// write error, which it keeps failing with until the process restarts,
/// and a probe file beside the store can be written and synced again.
async fn store_recoverable_by_restart(
    store: &psa_bridge::store::Store,
    store_path: &std::path::Path,
) -> String {
    let probe = psa_bridge::side_file::beside(store_path, ".probe");
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        if !store.needs_restart() {
            continue;
        }
        let probe = probe.clone();
        let writable = tokio::task::spawn_blocking(move || disk_writable(&probe))
            .await
            .unwrap_or(false);
        if writable {
            return store.write_failure().unwrap_or_default();
        }
    }
}

/// Writes, syncs and removes 64 KiB at `probe`.
fn disk_writable(probe: &std::path::Path) -> bool {
    use std::io::Write;
    let written = std::fs::File::create(probe).and_then(|mut file| {
        file.write_all(&[0u8; 64 * 1024])?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(probe);
    written.is_ok()
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
