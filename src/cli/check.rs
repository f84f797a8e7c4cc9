//! `check`: validate the configuration and mappings without starting anything.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub async fn check(config: &Path, offline: bool) -> anyhow::Result<ExitCode> {
    let loaded = match psa_bridge::config::load(config, &|name| std::env::var(name).ok()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    if offline {
        println!(
            "{}: configuration and {} mapping(s) are valid (vendors not asked)",
            config.display(),
            loaded.pairings.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let connections = psa_bridge::connections::build_all(&loaded.config.connections)?;
    let mut catalogs = std::collections::HashMap::new();
    let mut failed = false;
    for (name, conn) in &connections {
        match tokio::time::timeout(Duration::from_secs(30), conn.connector.discover()).await {
            Ok(Ok(catalog)) => {
                catalogs.insert(name.clone(), catalog);
            }
            Ok(Err(e)) => {
                eprintln!(
                    "{}: connections.{name}: cannot read statuses and priorities: {e}",
                    config.display()
                );
                failed = true;
            }
            Err(_) => {
                eprintln!(
                    "{}: connections.{name}: the vendor did not answer within 30 s",
                    config.display()
                );
                failed = true;
            }
        }
    }
    for pairing in &loaded.pairings {
        let (Some(a), Some(b)) = (catalogs.get(&pairing.a), catalogs.get(&pairing.b)) else {
            continue;
        };
        for error in
            pairing
                .mapping
                .validate_against(&pairing.mapping_path, &pairing.mapping_source, a, b)
        {
            eprintln!("{error}");
            failed = true;
        }
        if pairing.mapping.names_owner_labels() {
            failed |= !check_owner_labels(config, &connections, pairing).await;
        }
    }
    if failed {
        return Ok(ExitCode::from(1));
    }
    println!(
        "{}: configuration and {} mapping(s) are valid; every label exists on its vendor",
        config.display(),
        loaded.pairings.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks both sides for their group and category labels and checks the
/// pairing's `[owners]` / `[categories]` against them; prints the errors.
/// Returns whether everything is valid.
async fn check_owner_labels(
    config: &Path,
    connections: &std::collections::HashMap<String, psa_bridge::engine::Connection>,
    pairing: &psa_bridge::config::LoadedPairing,
) -> bool {
    let mut lists = Vec::new();
    for name in [&pairing.a, &pairing.b] {
        let Some(conn) = connections.get(name) else {
            return true;
        };
        match tokio::time::timeout(Duration::from_secs(30), conn.connector.discover_picklists())
            .await
        {
            Ok(Ok(l)) => lists.push(l),
            Ok(Err(e)) => {
                eprintln!(
                    "{}: connections.{name}: cannot read group and category labels: {e}",
                    config.display()
                );
                return false;
            }
            Err(_) => {
                eprintln!(
                    "{}: connections.{name}: the vendor did not answer within 30 s",
                    config.display()
                );
                return false;
            }
        }
    }
    let errors = pairing.mapping.validate_owner_labels(
        &pairing.mapping_path,
        &pairing.mapping_source,
        &lists[0],
        &lists[1],
    );
    for error in &errors {
        eprintln!("{error}");
    }
    errors.is_empty()
}
