//! The period report and its evidence bundle through the real binary: a
//! story played, `report` while the daemon runs (admin API) and after it
//! stopped (store), `keys generate`, and `audit verify --bundle` with the
//! right key, a wrong key, no signature, a tampered bundle and garbage.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::DemoOptions;

use crate::common::{cli, env, text, Bridge, STEP};

/// Recomputes the hash of the full entry `seq` in a bundle's JSON, as a
/// forger who knows the format would.
fn entry_hash_fixed(bundle: &mut serde_json::Value, seq: u64) {
    let records = bundle["body"]["records"].as_array_mut().unwrap();
    let entry = records
        .iter_mut()
        .filter_map(|r| r.get_mut("entry"))
        .find(|e| e["seq"] == seq)
        .unwrap();
    let mut stored: psa_bridge::store::AuditEntry = serde_json::from_value(entry.clone()).unwrap();
    stored.hash = psa_bridge::store::entry_hash(&stored);
    *entry = serde_json::to_value(&stored).unwrap();
}

async fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = cli(args).await;
    (out.status.code(), text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_keys_and_bundle_verification() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    let dir = env.dir.clone();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(1)).to_rfc3339();
    let to = (now + chrono::Duration::days(1)).to_rfc3339();
    let report = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "report",
            "--config",
            &config,
            "--pairing",
            "acme",
            "--from",
            &from,
            "--to",
            &to,
            "--out",
        ];
        args.push(out);
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run_owned = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&refs).await
    };

    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.play().await.unwrap();
    // While the daemon holds the store: through its admin API.
    let live = path("live");
    let (code, out) = run_owned(report(&live, &[])).await;
    assert_eq!(code, Some(0), "{out}");
    let live_md = std::fs::read_to_string(dir.join("live/report.md")).unwrap();
    assert!(live_md.contains("| Tickets escalated | 1 |"), "{live_md}");
    bridge.stop().await;

    let (code, out) = run(&["keys", "generate", "--out", &path("msp")]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("key id "), "{out}");
    let (code, _) = run(&["keys", "generate", "--out", &path("client")]).await;
    assert_eq!(code, Some(0));
    let (code, out) = run(&["keys", "generate", "--out", &path("msp")]).await;
    assert_eq!(code, Some(2), "an existing key is never replaced: {out}");

    // Stopped: from the store, signed.
    let stopped = path("stopped");
    let (code, out) = run_owned(report(&stopped, &["--sign-key", &path("msp.key")])).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("signed by key id"), "{out}");
    let (code, out) = run_owned(report(&stopped, &[])).await;
    assert_eq!(code, Some(2), "files are never replaced: {out}");
    let (code, out) = run_owned(report(&path("x"), &["--pairing", "nope"])).await;
    assert_eq!(code, Some(2), "{out}");

    #[cfg(unix)]
    for file in ["report.md", "report.csv", "evidence-bundle.json"] {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir.join("stopped").join(file)).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{file} holds ticket contents"
        );
    }
    let md = std::fs::read_to_string(dir.join("stopped/report.md")).unwrap();
    for expected in [
        "| Tickets escalated | 1 |",
        "| Resolved in the period | 1 |",
        "| Response targets | no targets configured |",
        "(1 of 1)",
        story.internal_number.as_str(),
        story.msp_number.as_str(),
    ] {
        assert!(md.contains(expected), "report.md lacks {expected:?}:\n{md}");
    }
    let csv = std::fs::read_to_string(dir.join("stopped/report.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let row = &rows[1];
    assert_eq!(row[3], story.internal_number, "{csv}");
    assert_eq!(row[5], story.msp_number, "{csv}");
    let secs = |i: usize| row[i].parse::<i64>().unwrap_or(-1);
    assert!(
        // first_response_secs, resolution_secs (counted: wall clock without targets)
        secs(9) >= 0 && secs(14) >= secs(9),
        "response and resolution: {csv}"
    );

    let bundle = path("stopped/evidence-bundle.json");
    let (code, out) = run(&["audit", "verify", "--bundle", &bundle]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("chain intact") && out.contains("not checked"),
        "{out}"
    );
    let (code, out) = run(&[
        "audit",
        "verify",
        "--bundle",
        &bundle,
        "--public-key",
        &path("msp.pub"),
    ])
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("valid"), "{out}");
    let (code, out) = run(&[
        "audit",
        "verify",
        "--bundle",
        &bundle,
        "--public-key",
        &path("client.pub"),
    ])
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("client.pub") && out.contains("did not sign"),
        "{out}"
    );
    let (code, out) = run(&[
        "audit",
        "verify",
        "--bundle",
        &path("live/evidence-bundle.json"),
        "--public-key",
        &path("msp.pub"),
    ])
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not signed"), "{out}");

    // One entry's words changed: named. The entry chosen is followed by a
    // stub (an intake entry of no pairing), whose hash the offline check
    // recomputes from its digest, so even a recomputed hash is caught.
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let records = value["body"]["records"].as_array_mut().unwrap();
    let at = (0..records.len() - 1)
        .find(|&i| records[i].get("entry").is_some() && records[i + 1].get("entry").is_none())
        .expect("a full entry followed by a stub");
    let entry = records[at].get_mut("entry").unwrap();
    let seq = entry["seq"].as_u64().unwrap();
    entry["message"] = "MSP answered within a minute".into();
    let tampered = path("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    let (code, out) = run(&["audit", "verify", "--bundle", &tampered]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("entry #{seq}")) && out.contains("altered"),
        "{out}"
    );

    // Compared with the store: the genuine bundle matches; the tampered one,
    // with its hash recomputed, is refused.
    let (code, out) = run(&[
        "audit",
        "verify",
        "--bundle",
        &bundle,
        "--against-store",
        "--config",
        &config,
    ])
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("matches this bridge's audit chain"), "{out}");
    entry_hash_fixed(&mut value, seq);
    std::fs::write(&tampered, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    // The stub after it carries its content digest (hash format 2): its hash
    // no longer follows from the rewritten entry's, offline too.
    let (code, out) = run(&["audit", "verify", "--bundle", &tampered]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("entry #{seq}")) && out.contains("altered"),
        "{out}"
    );
    let (code, out) = run(&[
        "audit",
        "verify",
        "--bundle",
        &tampered,
        "--public-key",
        &path("msp.pub"),
    ])
    .await;
    assert_eq!(code, Some(1), "the signature catches it: {out}");
    let (code, out) = run(&[
        "audit",
        "verify",
        "--bundle",
        &tampered,
        "--against-store",
        "--config",
        &config,
    ])
    .await;
    assert_eq!(code, Some(1), "{out}");
    // Broken offline already (the store comparison of a bundle that passes
    // offline, a format 1 stub's case, is in `evidence::hash_format_tests`).
    assert!(out.contains(&format!("BROKEN at entry #{seq}")), "{out}");

    // Hostile files.
    std::fs::write(path("garbage.json"), b"\xff\x00not a bundle").unwrap();
    let (code, out) = run(&["audit", "verify", "--bundle", &path("garbage.json")]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not UTF-8"), "{out}");
    std::fs::write(path("garbage.pub"), "hello").unwrap();
    let (code, out) = run(&[
        "audit",
        "verify",
        "--bundle",
        &bundle,
        "--public-key",
        &path("garbage.pub"),
    ])
    .await;
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("garbage.pub"), "{out}");
}
