//! The real `psa-bridge` binary as a child process: finding (or building)
//! it, starting it on a generated config, reading its queue depths from
//! `/metrics`, its peak memory from `/proc`, and stopping it with SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the daemon may take to start listening or to stop.
const STEP: Duration = Duration::from_secs(60);

/// The daemon binary to run: `PSA_BRIDGE_BIN` when set; otherwise, when
/// run by cargo (`cargo run`, `cargo test`), `cargo build -p psa-bridge`
/// in the bench's own profile (release for `--release`) first, so the
/// binary is current; then `psa-bridge` in the bench binary's target folder.
pub fn binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PSA_BRIDGE_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("locate the bench binary")?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| anyhow!("the bench binary has no folder"))?
        .to_path_buf();
    if dir.ends_with("deps") {
        // A test binary: target/<profile>/deps/<test>.
        dir.pop();
    }
    let binary = dir.join(format!("psa-bridge{}", std::env::consts::EXE_SUFFIX));
    if let (Some(cargo), Some(target)) = (std::env::var_os("CARGO"), dir.parent()) {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut build = std::process::Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "psa-bridge",
                "--bin",
                "psa-bridge",
            ])
            .arg("--manifest-path")
            .arg(manifest)
            .env("CARGO_TARGET_DIR", target);
        // What cargo set for this process only: build scripts (ring's)
        // track CARGO_MANIFEST_DIR, and a changed value rebuilds the TLS stack.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let per_crate = [
                "CARGO_PKG_",
                "CARGO_BIN_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix));
            if per_crate
                || name == "CARGO_PRIMARY_PACKAGE"
                || name == "CARGO_TARGET_TMPDIR"
                || name == "OUT_DIR"
            {
                build.env_remove(name.as_ref());
            }
        }
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().context("run cargo build -p psa-bridge")?;
        if !status.success() {
            bail!("cargo build -p psa-bridge failed ({status})");
        }
    }
    if !binary.exists() {
        bail!(
            "no daemon binary at {}: build it with `cargo build --release -p psa-bridge` \
             or name it in PSA_BRIDGE_BIN",
            binary.display()
        );
    }
    Ok(binary)
}

/// A running `psa-bridge run`.
pub struct Daemon {
    child: Child,
    /// The public (webhook) listener.
    pub addr: SocketAddr,
    /// The admin listener (`/metrics`, `/api/v1`).
    pub admin: SocketAddr,
    http: reqwest::Client,
}

/// Queue depths from `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Queues {
    pub inbox: u64,
    pub outbox: u64,
}

impl Daemon {
    /// Starts `binary run --config config` (log: `daemon-N.log` beside the
    /// config) and waits until both listeners are up.
    pub async fn spawn(binary: &Path, config: &Path) -> Result<Daemon> {
        let dir = config
            .parent()
            .ok_or_else(|| anyhow!("config without folder"))?;
        let index = std::fs::read_dir(dir)?.count();
        let log = std::fs::File::create(dir.join(format!("daemon-{index}.log")))?;
        let mut child = Command::new(binary)
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no daemon stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let started = tokio::time::timeout(STEP, async {
            let mut addr = None;
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("psa-bridge listening on http://") {
                    addr = Some(url.trim().parse::<SocketAddr>()?);
                }
                if let Some(url) = line.strip_prefix("psa-bridge admin API on http://") {
                    let admin = url.trim().parse::<SocketAddr>()?;
                    let addr = addr.ok_or_else(|| anyhow!("admin address printed first"))?;
                    return Ok((addr, admin));
                }
            }
            Err(anyhow!(
                "the daemon exited before listening; see its log in {}",
                dir.display()
            ))
        })
        .await
        .map_err(|_| anyhow!("the daemon did not listen within {STEP:?}"))?;
        let (addr, admin) = started?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Daemon {
            child,
            addr,
            admin,
            http: reqwest::Client::new(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Inbox and outbox depths (`psa_bridge_inbox_pending`, `psa_bridge_outbox_pending`).
    pub async fn queues(&self) -> Result<Queues> {
        let body = self
            .http
            .get(format!("http://{}/metrics", self.admin))
            .timeout(Duration::from_secs(30))
            .send()
            .await?
            .text()
            .await?;
        let mut queues = Queues::default();
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value = value.parse::<f64>().unwrap_or(0.0) as u64;
            match name {
                "psa_bridge_inbox_pending" => queues.inbox = value,
                "psa_bridge_outbox_pending" => queues.outbox = value,
                _ => {}
            }
        }
        Ok(queues)
    }

    /// Waits until inbox and outbox are both empty (three checks in a row).
    pub async fn wait_idle(&self, limit: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut quiet = 0;
        while quiet < 3 {
            let q = self.queues().await?;
            quiet = if q.inbox == 0 && q.outbox == 0 {
                quiet + 1
            } else {
                0
            };
            if tokio::time::Instant::now() > deadline {
                bail!("the daemon did not go idle within {limit:?}: {q:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// The process's peak resident memory (`VmHWM`), in MB.
    pub fn peak_rss_mb(&self) -> Result<f64> {
        let pid = self.pid().ok_or_else(|| anyhow!("the daemon has exited"))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .context("read /proc/PID/status (Linux only)")?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))?;
        Ok(kb / 1024.0)
    }

    /// SIGTERM, then waits for the exit (SIGKILL after [`STEP`]).
    pub async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        match tokio::time::timeout(STEP, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("the daemon exited with {status} on SIGTERM");
                }
                Ok(())
            }
            Err(_) => {
                let _ = self.child.start_kill();
                bail!("the daemon did not stop within {STEP:?} of SIGTERM")
            }
        }
    }
}
