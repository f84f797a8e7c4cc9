//! What ships around the binary: the container image's `HEALTHCHECK`
//! command against a real daemon, and the Dockerfile and systemd unit
//! checked as far as this machine can without a Docker engine or a booted
//! systemd (the unit goes through `systemd-analyze verify` when present).

use std::path::Path;

use psa_bridge::demo::DemoOptions;

use crate::common::{cli, env, text, Bridge, BIN};

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[tokio::test]
async fn healthcheck_is_healthy_while_the_daemon_runs_and_not_after() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    let bridge = Bridge::spawn(&env.config_path).await;

    let up = cli(&["healthcheck", "--config", &config]).await;
    assert!(up.status.success(), "{}", text(&up));
    assert!(
        text(&up).contains("healthy: http://127.0.0.1:"),
        "{}",
        text(&up)
    );
    let by_url = bridge.admin_url("");
    let up = cli(&["healthcheck", "--url", &by_url]).await;
    assert!(up.status.success(), "{}", text(&up));

    bridge.kill().await;
    let down = cli(&["healthcheck", "--config", &config]).await;
    assert_eq!(down.status.code(), Some(1), "{}", text(&down));
    assert!(
        text(&down).contains("unhealthy: no answer"),
        "{}",
        text(&down)
    );

    let bad = cli(&["healthcheck", "--url", "ftp://127.0.0.1:1"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("only http"), "{}", text(&bad));
}

/// Lines of the Dockerfile's last stage (the runtime image).
fn runtime_stage(dockerfile: &str) -> Vec<String> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let last_from = joined
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM line");
    joined.split_off(last_from)
}

#[test]
fn the_image_runs_unprivileged_with_a_healthcheck_the_binary_has() {
    let dockerfile = repo_file("Dockerfile");
    let stage = runtime_stage(&dockerfile);
    let user = stage
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    assert!(!matches!(user.trim(), "root" | "0"), "runs as {user}");
    assert!(
        stage
            .iter()
            .any(|l| l == "VOLUME [\"/var/lib/psa-bridge\"]"),
        "the store's volume: {stage:?}"
    );
    let check = stage
        .iter()
        .find(|l| l.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK");
    let command: Vec<String> =
        serde_json::from_str(&check[check.find("CMD ").expect("HEALTHCHECK ... CMD") + 4..])
            .expect("exec-form CMD");
    assert_eq!(command[0], "/usr/local/bin/psa-bridge");
    assert!(
        stage.iter().any(|l| l.starts_with(
            "COPY --from=build /src/target/release/psa-bridge /usr/local/bin/psa-bridge"
        )),
        "the binary lands where HEALTHCHECK runs it"
    );
    // The HEALTHCHECK's arguments are accepted by the binary we build.
    let mut help_args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    help_args.push("--help");
    let help = std::process::Command::new(BIN)
        .args(&help_args)
        .output()
        .unwrap();
    assert!(
        help.status.success(),
        "{:?}",
        String::from_utf8_lossy(&help.stderr)
    );
    // Every file the image copies from the source tree exists.
    for line in &stage {
        if let Some(rest) = line.strip_prefix("COPY --from=build /src/") {
            let source = rest.split_whitespace().next().unwrap();
            if !source.starts_with("target/") {
                assert!(
                    Path::new(env!("CARGO_MANIFEST_DIR")).join(source).exists(),
                    "COPY {source}: not in the repository"
                );
            }
        }
    }
    let ignore = repo_file(".dockerignore");
    for excluded in ["target", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == excluded),
            ".dockerignore keeps {excluded} out of the build context"
        );
    }
}

/// The hardening the unit promises (docs/operations.md) is in it.
#[test]
fn the_systemd_unit_is_hardened_and_valid() {
    let unit = repo_file("packaging/systemd/psa-bridge.service");
    for setting in [
        "DynamicUser=yes",
        "StateDirectory=psa-bridge",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "UMask=0077",
        "Restart=on-failure",
        "RestartPreventExitStatus=2 3",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == setting),
            "missing {setting}"
        );
    }
    let timeout: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .expect("TimeoutStopSec")
        .parse()
        .unwrap();
    assert!(timeout > 30, "longer than the default shutdown bound");

    let Ok(version) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!(
            "systemd-analyze not installed: unit syntax checked by the assertions above only"
        );
        return;
    };
    assert!(version.status.success());
    // `verify` checks that ExecStart's binary exists: point it at ours.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("psa-bridge.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/psa-bridge", BIN)).unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // verify exits 0 on unknown keys and bad values; it only warns.
    assert!(verify.status.success() && said.trim().is_empty(), "{said}");
}

/// Splits a shell command line the way `sh` would for the guide's simple
/// commands: whitespace outside double quotes; a `#` comment ends it.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            '#' if !quoted && !any => break,
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

/// Every `psa-bridge ...` command in `docs/operations.md` is one the CLI
/// accepts (clap refuses an unknown subcommand or flag before `--help`),
/// and every test and document the guide cites exists.
#[test]
fn the_operations_guide_names_real_commands_tests_and_documents() {
    let guide = repo_file("docs/operations.md");
    let mut in_code = false;
    let mut checked = 0;
    for line in guide.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let line = line.trim().trim_end_matches('&').trim();
        if !in_code || !line.starts_with("psa-bridge ") {
            continue;
        }
        let mut args = shell_words(line);
        args.remove(0);
        args.push("--help".into());
        let parsed = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            parsed.status.success(),
            "docs/operations.md: `{line}` is refused: {}",
            String::from_utf8_lossy(&parsed.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} commands found");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for cited in guide.split(['`', '(', ')', '[', ']']).filter(|w| {
        w.starts_with("tests/e2e/")
            || w.starts_with("../packaging/")
            || w.ends_with(".md") && !w.contains(' ')
    }) {
        let path = cited.split('#').next().unwrap().trim_start_matches("../");
        let candidates = [root.join(path), root.join("docs").join(path)];
        assert!(
            candidates.iter().any(|p| p.exists()),
            "docs/operations.md cites {cited}, which does not exist"
        );
    }
}
