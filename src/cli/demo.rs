//! `demo`: both simulators in-process, the daemon against them, the escalation
//! story narrated, then the audit chain verified. Exit code 0 on success.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use psa_bridge::demo::story::{Story, EXPECTED_WRITES};
use psa_bridge::demo::{DemoEnv, DemoOptions};
use psa_bridge::report;
use psa_bridge::store::VerifyReport;

pub async fn demo(store: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let temp = tempfile::tempdir()?;
    let dir = store.unwrap_or_else(|| temp.path().to_path_buf());
    let env = DemoEnv::start(&dir, &DemoOptions::default()).await?;
    println!(
        "psa-bridge demo: Autotask simulator at {}, ConnectWise simulator at {}",
        env.autotask.addr(),
        env.connectwise.addr()
    );
    let loaded = psa_bridge::config::load(&env.config_path, &|name| std::env::var(name).ok())?;
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon).await?;
    let daemon =
        psa_bridge::daemon::start(loaded, listeners, Arc::new(psa_bridge::clock::SystemClock))
            .await?;
    println!(
        "psa-bridge daemon listening on http://{} (webhooks registered with both simulators)\n",
        daemon.addr
    );

    let mut story = Story::new(&env, Duration::from_secs(30), true);
    let played = story.play().await;
    // Let trailing echoes settle before counting writes.
    env.autotask.wait_webhooks_idle().await;
    env.connectwise.wait_callbacks_idle().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    println!();
    let writes = env.ticket_writes();
    let echo_free = writes == EXPECTED_WRITES;
    println!(
        "Ticket and note writes by the bridge: {} to Autotask, {} to ConnectWise ({}).",
        writes.0,
        writes.1,
        if echo_free {
            "exactly the story's changes, no echoes"
        } else {
            "UNEXPECTED: the story needs 7 and 3"
        }
    );
    let history = report::ticket_history(
        &daemon.engine.store,
        &format!("autotask:{}", story.internal_number),
    )?;
    let (intake, decisions): (Vec<_>, Vec<_>) =
        history.into_iter().partition(|e| e.kind == "intake");
    println!(
        "\nAudit trail of autotask:{} on both sides ({} change notices not shown; `psa-bridge audit --ticket` shows all):",
        story.internal_number,
        intake.len()
    );
    print!("{}", report::render_history(&decisions));
    let verdict = daemon.engine.store.verify_audit()?;
    daemon.shutdown().await;

    if let Err(e) = played {
        eprintln!("\ndemo failed: {e}");
        return Ok(ExitCode::FAILURE);
    }
    if !echo_free {
        eprintln!("\ndemo failed: the bridge wrote {writes:?}, expected {EXPECTED_WRITES:?}");
        return Ok(ExitCode::FAILURE);
    }
    match verdict {
        VerifyReport::Intact { entries, head } => {
            println!("\nAudit chain verified: {entries} entries, intact (head sha256 {head}).");
            println!("Demo complete: both tickets closed, notes and fields in sync.");
            Ok(ExitCode::SUCCESS)
        }
        VerifyReport::Broken { seq, reason } => {
            eprintln!("\naudit chain broken at entry #{seq}: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}
