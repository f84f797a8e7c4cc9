//! `check`: validate the configuration and mappings without starting
//! anything (each mapping finding names its pairing), and say which
//! pairings are paused, warning about one paused and then removed from the
//! configuration (its operations wait in the outbox).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use psa_bridge::admin::status::{self, PairingStatus};
use psa_bridge::config::LoadedConfig;

use super::access::{connect, Access};

/// Prints the paused pairings the store knows (read through the running
/// daemon when it holds the store); nothing when there is no store yet.
/// Informational: it never fails the check.
async fn paused_pairings(config: &Path, loaded: &LoadedConfig) {
    if !loaded.store_path.exists() {
        return;
    }
    let listed: anyhow::Result<Vec<PairingStatus>> = async {
        Ok(match connect(config).await? {
            Access::Local(engine) => status::pairings(&engine)?,
            remote @ Access::Remote { .. } => remote.get("/api/v1/pairings").await?,
        })
    }
    .await;
    let pairings = match listed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("note: paused pairings not checked: {e:#}");
            return;
        }
    };
    for p in pairings.iter().filter(|p| p.paused) {
        let why = p
            .paused_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        if p.configured {
            println!(
                "pairing {}: paused{why}; {} operation(s) wait in the outbox until `psa-bridge pairings resume {}`",
                p.name, p.pending, p.name
            );
        } else {
            eprintln!(
                "warning: pairing {} is paused in the store but no longer configured{why}; \
                 {} operation(s) of it wait in the outbox. Add it back to the configuration, \
                 or run `psa-bridge pairings resume {}` to clear the pause record",
                p.name, p.pending, p.name
            );
        }
    }
}

pub async fn check(config: &Path, offline: bool) -> anyhow::Result<ExitCode> {
    let loaded = match psa_bridge::config::load(config, &|name| std::env::var(name).ok()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    paused_pairings(config, &loaded).await;
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
            eprintln!("pairing {}: {error}", pairing.name);
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
    for (side, labels) in pairing.mapping.unmapped_categories(&lists[0], &lists[1]) {
        println!(
            "warning: pairing {}: side {side} ({}) has categories no [categories] pair maps; \
             a ticket carrying one is not categorised across and is audited \
             unmapped_category: {}",
            pairing.name,
            pairing.connection(side),
            labels.join(", ")
        );
    }
    errors.is_empty()
}
