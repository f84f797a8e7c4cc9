//! `demo`: the simulators in-process, the daemon against them, the escalation
//! story narrated for one pairing (`psa_bridge::demo::PAIRINGS`: Autotask or
//! ServiceNow with ConnectWise, Jira with Autotask), then the audit chain
//! verified. Exit code 0 on success.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{DemoEnv, DemoOptions, System, PAIRINGS};
use psa_bridge::report;
use psa_bridge::store::VerifyReport;

pub async fn demo(
    store: Option<PathBuf>,
    internal: System,
    msp: Option<System>,
) -> anyhow::Result<ExitCode> {
    let msp = msp.unwrap_or_else(|| {
        PAIRINGS
            .iter()
            .find(|p| p.internal == internal)
            .map_or(System::Connectwise, |p| p.msp)
    });
    let temp = tempfile::tempdir()?;
    let dir = store.unwrap_or_else(|| temp.path().to_path_buf());
    let options = DemoOptions {
        internal,
        msp,
        ..Default::default()
    };
    let env = DemoEnv::start(&dir, &options).await?;
    let (internal_desk, msp_desk, script) = env.desks();
    println!(
        "psa-bridge demo: {} simulator at {}, {} simulator at {}",
        internal_desk.system(),
        env.addr(internal),
        msp_desk.system(),
        env.addr(msp)
    );
    let loaded = psa_bridge::config::load(&env.config_path, &|name| std::env::var(name).ok())?;
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon).await?;
    let daemon =
        psa_bridge::daemon::start(loaded, listeners, Arc::new(psa_bridge::clock::SystemClock))
            .await?;
    if internal == System::Servicenow {
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
    daemon.shutdown().await;

    if let Err(e) = played {
        eprintln!("\ndemo failed: {e}");
        return Ok(ExitCode::FAILURE);
    }
    if !echo_free {
        eprintln!("\ndemo failed: the bridge wrote {writes:?}, expected {expected:?}");
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
