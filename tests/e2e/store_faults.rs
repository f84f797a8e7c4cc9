//! Store faults through the real binary: a store directory that cannot be
//! used as it is (newer format, someone else's data, damaged) stops `run`
//! with exit code 3 and one clear line, no panic, the directory untouched;
//! and a store that fails to write (the test-only fault file standing in
//! for a full disk) answers webhooks 503, does not advance the poll cursor,
//! keeps undeliverable results in the outbox, shows in `/healthz`, and
//! converges without duplicates once the disk is back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use psa_bridge::demo::{wait_for, DemoOptions};
use psa_bridge::store::{Store, FAULT_FILE_ENV};
use serde_json::{json, Value};

use crate::common::{env, settled, Bridge, BIN, STEP};
use crate::steps::{autotask_webhook, metric, post_autotask_webhook, wait_for_metric};

fn store_path(config: &Path) -> PathBuf {
    psa_bridge::config::load(config, &|_| Some(String::new()))
        .unwrap()
        .store_path
}

/// Every file under `dir` with its bytes, except sled's snapshot files.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
                out.push((path, Vec::new()));
            } else if !path.to_string_lossy().contains("snap.") {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Runs `psa-bridge run` on `config`, expecting it to refuse the store.
async fn run_refused(config: &Path) -> (Option<i32>, String) {
    let output = tokio::time::timeout(
        STEP,
        tokio::process::Command::new(BIN)
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run did not stop on an unusable store")
    .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_store_stops_run_with_exit_code_3_and_is_left_alone() {
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    let path = store_path(&env.config_path);
    // (case, message, whether every byte is kept, how to make the directory).
    // A garbled data file is the exception: sled's crash recovery runs
    // inside its open, before any check of ours, and rewrites the log
    // segment it cannot read (as after a crash); the store is still refused
    // and no file is added or removed. See docs/reliability.md.
    type Prepare = fn(&Path);
    let cases: [(&str, &str, bool, Prepare); 3] = [
        (
            "newer format",
            "was written by a newer psa-bridge",
            true,
            |p| {
                drop(Store::open(p).unwrap());
                let db = sled::open(p).unwrap();
                let meta = db.open_tree("meta").unwrap();
                meta.insert("format_version", &b"99"[..]).unwrap();
                db.flush().unwrap();
            },
        ),
        (
            "someone else's files",
            "is not a psa-bridge store",
            true,
            |p| {
                std::fs::create_dir_all(p).unwrap();
                std::fs::write(p.join("thesis.tex"), b"\\chapter{One}").unwrap();
            },
        ),
        ("a damaged data file", "is damaged", false, |p| {
            drop(Store::open(p).unwrap());
            let len = std::fs::metadata(p.join("db")).unwrap().len() as usize;
            let noise: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
            std::fs::write(p.join("db"), noise).unwrap();
        }),
    ];
    for (case, message, bytes_kept, prepare) in cases {
        let _ = std::fs::remove_dir_all(&path);
        prepare(&path);
        let before = files(&path);
        let (code, stderr) = run_refused(&env.config_path).await;
        assert_eq!(code, Some(3), "{case}: {stderr}");
        assert!(stderr.contains(message), "{case}: {stderr}");
        assert!(!stderr.contains("panicked"), "{case}: {stderr}");
        let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(error_lines.len(), 1, "{case}: one error line: {stderr}");
        let after = files(&path);
        if bytes_kept {
            assert!(after == before, "{case}: the directory was written to");
        } else {
            let names =
                |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
            assert_eq!(
                names(&after),
                names(&before),
                "{case}: files added or removed"
            );
        }
    }
}

/// A signed Autotask webhook about ticket `id`.
fn autotask_hook(id: i64, number: &str, sequence: u64) -> (Vec<u8>, String) {
    autotask_webhook(
        id,
        json!({ "TicketNumber": number, "Status": "1" }),
        sequence,
    )
}

/// Waits until `metric` reaches at least `target`.
async fn metric_reaches(bridge: &Bridge, name: &str, labels: &[&str], target: f64) {
    let what = format!("reached {target}");
    wait_for_metric(bridge, name, labels, &what, |v| v >= target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_write_answers_503_and_recovers_without_duplicates() {
    let (_dir, env) = env(DemoOptions {
        webhooks: true,
        polling: true,
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    let fault = env.dir.join("store-fault");
    let bridge = Bridge::spawn_with_env(
        &env.config_path,
        &[(FAULT_FILE_ENV, fault.to_str().unwrap())],
    )
    .await;

    // Creating the ConnectWise ticket takes a while, so the disk can "fill
    // up" while it is in flight: the vendor write happens, recording it fails.
    env.connectwise
        .control()
        .set_latency(Duration::from_secs(5));
    let t = env.autotask.user_create_ticket(
        "Printer jam",
        "Floor 2 printer.",
        "Level I Support",
        "Medium",
    );
    env.autotask.user_set_queue(t.id, "Escalate to MSP");
    metric_reaches(&bridge, "psa_bridge_outbox_pending", &[], 1.0).await;
    std::fs::write(&fault, b"").unwrap();

    // A signed notice cannot be stored: 503, so the vendor retries.
    let hook = autotask_hook(t.id, &t.number, 7);
    let refused = post_autotask_webhook(&bridge, &hook).await;
    assert_eq!(refused.status(), 503);

    // /healthz says why.
    let (code, health) = bridge.health().await;
    assert_eq!(code, 503, "{health}");
    assert_eq!(health["store"]["state"], "failing", "{health}");
    let error = health["store"]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("injected store fault"), "{health}");

    // Polls run but fail: the cursor cannot advance without its records.
    let polled_ok = metric(&bridge, "psa_bridge_polls_total", &["autotask", "\"ok\""]).await;
    let failed = metric(
        &bridge,
        "psa_bridge_polls_total",
        &["autotask", "\"failed\""],
    )
    .await;
    metric_reaches(
        &bridge,
        "psa_bridge_polls_total",
        &["autotask", "\"failed\""],
        failed + 2.0,
    )
    .await;
    assert_eq!(
        metric(&bridge, "psa_bridge_polls_total", &["autotask", "\"ok\""]).await,
        polled_ok,
        "a poll succeeded while the store could not write"
    );

    // The create reached ConnectWise, but its result could not be recorded:
    // the operation stays in the outbox.
    wait_for("the ConnectWise ticket", STEP, || {
        (!env.connectwise.tickets().is_empty()).then_some(())
    })
    .await
    .unwrap();
    assert!(metric(&bridge, "psa_bridge_outbox_pending", &[]).await >= 1.0);

    // The disk is back: the vendor's retry is accepted, everything converges.
    std::fs::remove_file(&fault).unwrap();
    env.connectwise.control().set_latency(Duration::ZERO);
    let accepted = post_autotask_webhook(&bridge, &hook).await;
    assert_eq!(accepted.status(), 200);
    let counts: Value = accepted.json().await.unwrap();
    assert_eq!(counts["accepted"], 1, "{counts}");
    // ConnectWise: one ticket. Autotask: the write-back note and MSP Ticket field.
    assert_eq!(settled(&env, &bridge).await, (2, 1), "a duplicate write");
    assert_eq!(env.connectwise.tickets().len(), 1, "one ConnectWise ticket");
    let (code, health) = bridge.health().await;
    assert_eq!(
        (code, &health["store"]["state"]),
        (200, &json!("ok")),
        "{health}"
    );
    let verify: Value =
        serde_json::from_str(&bridge.admin_get("/api/v1/audit/verify").await).unwrap();
    assert_eq!(verify["intact"], true, "{verify}");
    bridge.stop().await;
}

/// A real write error (the file size limit standing in for a full disk):
/// sled keeps failing even once the limit is lifted, so `run` exits with
/// code 4 as soon as the disk is writable again; started again, the daemon
/// accepts the notice the vendor retries.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_write_error_exits_with_code_4_once_the_disk_is_back() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        eprintln!("prlimit (util-linux) not installed; skipped");
        return;
    }
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    // SIGXFSZ ignored (kept across exec), so an oversize write is an error.
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; exec \"$0\" run --config \"$1\"")
        .arg(BIN)
        .arg(&env.config_path)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(STEP, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("psa-bridge listening on http://") {
                return url.trim().to_string();
            }
        }
        panic!("psa-bridge exited before listening");
    })
    .await
    .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let pid = child.id().unwrap().to_string();
    let prlimit = |value: String| {
        let status = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--fsize={value}")])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let db = store_path(&env.config_path).join("db");
    prlimit(format!(
        "{}:unlimited",
        std::fs::metadata(&db).unwrap().len()
    ));

    let client = reqwest::Client::new();
    let mut refused = None;
    for sequence in 1..200 {
        let hook = autotask_hook(900_100 + sequence as i64, "T20261125.0998", sequence);
        let response = client
            .post(format!("http://{addr}/webhooks/autotask"))
            .header("X-Hook-Signature", &hook.1)
            .body(hook.0.clone())
            .send()
            .await
            .unwrap();
        if response.status() == 503 {
            refused = Some(hook);
            break;
        }
        assert_eq!(response.status(), 200);
    }
    let refused = refused.expect("no webhook was refused under the file size limit");

    prlimit("unlimited:unlimited".into());
    let status = tokio::time::timeout(STEP, child.wait()).await;
    if status.is_err() {
        child.start_kill().unwrap();
    }
    let stderr = stderr.await.unwrap();
    let status = status
        .unwrap_or_else(|_| panic!("run did not exit once the disk was writable again: {stderr}"))
        .unwrap();
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("restarts psa-bridge"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // What a service manager does: start it again. sled recovers.
    let bridge = Bridge::spawn(&env.config_path).await;
    let response = post_autotask_webhook(&bridge, &refused).await;
    assert_eq!(response.status(), 200);
    let (code, health) = bridge.health().await;
    assert_eq!(health["store"]["state"], "ok", "{code} {health}");
    let verify: Value =
        serde_json::from_str(&bridge.admin_get("/api/v1/audit/verify").await).unwrap();
    assert_eq!(verify["intact"], true, "{verify}");
    bridge.stop().await;
}
