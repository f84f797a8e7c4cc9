//! The daemon as a child process, and helpers shared by the end-to-end tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use psa_bridge::demo::{DemoEnv, DemoOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_psa-bridge");
pub const STEP: Duration = Duration::from_secs(30);

/// A running `psa-bridge run` process.
pub struct Bridge {
    child: Child,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    config: PathBuf,
    /// The daemon's log (its stderr).
    pub log: PathBuf,
}

impl Bridge {
    /// Starts the daemon on `config` and waits until it listens.
    pub async fn spawn(config: &Path) -> Bridge {
        Self::spawn_with_env(config, &[]).await
    }

    /// [`Bridge::spawn`] with extra environment variables (they override
    /// the default `RUST_LOG`).
    pub async fn spawn_with_env(config: &Path, envs: &[(&str, &str)]) -> Bridge {
        let dir = config.parent().unwrap();
        let log_index = std::fs::read_dir(dir).unwrap().count();
        let log_path = dir.join(format!("daemon-{log_index}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(config)
            .env(
                "RUST_LOG",
                "info,psa_bridge=debug,psa_bridge::delivery=trace",
            )
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn psa-bridge");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (addr, admin) = tokio::time::timeout(STEP, async {
            let mut addr = None;
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("psa-bridge listening on http://") {
                    addr = Some(url.trim().parse::<SocketAddr>().unwrap());
                }
                if let Some(url) = line.strip_prefix("psa-bridge admin API on http://") {
                    let admin = url.trim().parse::<SocketAddr>().unwrap();
                    return (addr.expect("webhook address printed first"), admin);
                }
            }
            panic!(
                "psa-bridge exited before listening; see the daemon log in {}",
                dir.display()
            );
        })
        .await
        .expect("psa-bridge did not start in time");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Bridge {
            child,
            addr,
            admin,
            config: config.to_path_buf(),
            log: log_path,
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the daemon is running")
    }

    /// Sends SIGTERM and returns at once.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill failed");
    }

    /// Waits up to `limit` for the process to exit; `None` if it still runs.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .map(|status| status.expect("wait for psa-bridge"))
    }

    /// The admin API token the CLI would use: `daemon.admin_token` when the
    /// config sets one without `${...}`, else the generated `<store_path>.token`.
    pub fn admin_token(&self) -> String {
        let loaded = psa_bridge::config::load(&self.config, &|_| Some(String::new())).unwrap();
        match loaded.config.daemon.admin_token {
            Some(token) if !token.0.is_empty() => token.0,
            _ => std::fs::read_to_string(psa_bridge::admin::token::token_file(&loaded.store_path))
                .expect("the daemon wrote its admin token file")
                .trim()
                .to_string(),
        }
    }

    /// A client that presents the admin token.
    pub fn admin_client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", self.admin_token()).parse().unwrap(),
        );
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap()
    }

    /// `GET` an admin path with the token; the body as text (asserts 2xx).
    pub async fn admin_get(&self, path: &str) -> String {
        let response = self
            .admin_client()
            .get(self.admin_url(path))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    /// `/healthz` on the admin listener with the admin token (error texts
    /// included): HTTP status and JSON body.
    pub async fn health(&self) -> (u16, serde_json::Value) {
        let response = self
            .admin_client()
            .get(self.admin_url("/healthz"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// `/healthz` on the admin listener without a token (states only).
    pub async fn health_without_token(&self) -> (u16, serde_json::Value) {
        let response = reqwest::get(self.admin_url("/healthz")).await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// SIGKILL: no shutdown, no flush.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }

    /// Graceful stop (SIGTERM) and wait.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        let status = tokio::time::timeout(STEP, self.child.wait())
            .await
            .expect("psa-bridge did not stop within the step after SIGTERM")
            .expect("wait for psa-bridge");
        assert!(
            status.success(),
            "psa-bridge exited with {status} on SIGTERM (see its log beside the config)"
        );
    }

    /// A URL on the public (webhook) listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A URL on the admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }
}

/// Runs a CLI command to completion.
pub async fn cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run psa-bridge")
}

/// Runs a CLI command with extra environment variables.
pub async fn cli_with_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .output()
        .await
        .expect("run psa-bridge")
}

/// `psa-bridge audit --ticket TICKET` on the environment's config; its output.
pub async fn audit_history(env: &DemoEnv, ticket: &str) -> String {
    let output = cli(&[
        "audit",
        "--config",
        env.config_path.to_str().unwrap(),
        "--ticket",
        ticket,
    ])
    .await;
    let out = text(&output);
    assert!(output.status.success(), "audit --ticket {ticket}: {out}");
    out
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A test's temporary folder; kept (with the daemon logs) when the test fails.
pub struct TestDir(Option<tempfile::TempDir>);

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("PSA_KEEP_TEST_DIRS").is_some() {
            if let Some(dir) = self.0.take() {
                eprintln!(
                    "test failed; daemon logs and store kept in {}",
                    dir.keep().display()
                );
            }
        }
    }
}

/// Simulators plus a generated config in a fresh temp dir.
pub async fn env(options: DemoOptions) -> (TestDir, DemoEnv) {
    let dir = tempfile::tempdir().unwrap();
    let env = DemoEnv::start(dir.path(), &options).await.unwrap();
    (TestDir(Some(dir)), env)
}

/// Ticket and note writes the bridge made to (Autotask, ConnectWise).
pub fn writes(env: &DemoEnv) -> (usize, usize) {
    env.ticket_writes()
}

/// The daemon's queue depths and completed poll rounds, from `/metrics`.
#[derive(Debug, Default, PartialEq)]
pub struct Progress {
    pub inbox: u64,
    pub outbox: u64,
    /// Successful poll rounds of the connection that has had the fewest;
    /// `None` when nothing polls.
    pub polls: Option<u64>,
    /// Notice groups planned successfully so far, all connections.
    pub plans: u64,
}

/// Reads [`Progress`] from the daemon's metrics.
pub async fn progress(bridge: &Bridge) -> Option<Progress> {
    let body = reqwest::get(bridge.admin_url("/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut progress = Progress::default();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let value = value as u64;
        if name == "psa_bridge_inbox_pending" {
            progress.inbox = value;
        } else if name == "psa_bridge_outbox_pending" {
            progress.outbox = value;
        } else if name.starts_with("psa_bridge_plan_duration_seconds_count{")
            && name.contains("outcome=\"planned\"")
        {
            progress.plans += value;
        } else if name.starts_with("psa_bridge_polls_total{") && name.contains("outcome=\"ok\"") {
            progress.polls = Some(progress.polls.map_or(value, |p| p.min(value)));
        }
    }
    Some(progress)
}

/// Waits until the daemon has settled, judged on its state, not on silence:
/// vendor webhooks delivered, inbox and outbox empty, and the bridge's write
/// counts unchanged across two completed poll rounds of every connection
/// (across a few checks when nothing polls). Returns the write counts.
pub async fn settled(env: &DemoEnv, bridge: &Bridge) -> (usize, usize) {
    settled_by(env, bridge, || writes(env)).await
}

/// [`settled`], with the write counts taken by `writes`.
pub async fn settled_by<W: PartialEq + std::fmt::Debug>(
    env: &DemoEnv,
    bridge: &Bridge,
    writes: impl Fn() -> W,
) -> W {
    let deadline = std::time::Instant::now() + SETTLE_LIMIT;
    let mut quiet_since: Option<(Option<u64>, W, u32)> = None;
    loop {
        env.wait_webhooks_idle().await;
        let now = progress(bridge).await.unwrap_or(Progress {
            inbox: u64::MAX,
            ..Progress::default()
        });
        let now_writes = writes();
        let idle = now.inbox == 0 && now.outbox == 0;
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not settle within {SETTLE_LIMIT:?}: {now:?}, writes {now_writes:?}"
        );
        quiet_since = match quiet_since {
            Some((polls, before, checks)) if idle && before == now_writes => {
                let rounds_done = match (polls, now.polls) {
                    (Some(start), Some(current)) => current >= start + 2,
                    _ => checks >= 4,
                };
                if rounds_done {
                    return now_writes;
                }
                Some((polls, before, checks + 1))
            }
            _ => idle.then_some((now.polls, now_writes, 0)),
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long [`settled`] waits before it calls the daemon stuck.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(180);

/// Plays the story's four steps, SIGKILLing the daemon `after` into each
/// step and starting it again with `respawn`; returns the last daemon.
pub async fn play_with_kills<R, Fut>(
    story: &mut psa_bridge::demo::story::Story<'_>,
    mut bridge: Bridge,
    after: Duration,
    respawn: R,
) -> Bridge
where
    R: Fn() -> Fut,
    Fut: std::future::Future<Output = Bridge>,
{
    for step in 0..4 {
        let killer = async {
            tokio::time::sleep(after).await;
            bridge.kill().await;
            respawn().await
        };
        let play = async {
            match step {
                0 => story.escalate().await,
                1 => story.msp_picks_up().await,
                2 => story.tech_replies().await,
                _ => story.msp_resolves().await,
            }
            .unwrap()
        };
        let ((), next) = tokio::join!(play, killer);
        bridge = next;
    }
    bridge
}
