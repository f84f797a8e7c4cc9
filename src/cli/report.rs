//! `psa-bridge report --pairing P --from DATE --to DATE` (the period report
//! and its evidence bundle) and `psa-bridge audit verify --bundle FILE`
//! (checking a bundle offline, with no store and no configuration).
//!
//! The report reads the whole audit chain: from the store when the daemon
//! is stopped, else page by page through the running daemon's
//! `/api/v1/activity` (entries as stored, hashes included) with the admin
//! token, as `audit` does. Either way the bundle is checked before anything
//! is written, so a broken store chain is reported, not packaged.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use psa_bridge::backfill::parse_since;
use psa_bridge::evidence::bundle::{self, write_new, Bundle, Sides, MAX_BUNDLE_BYTES};
use psa_bridge::evidence::{compare_with_chain, sign, verify_chain};
use psa_bridge::period_report::{self, render};
use psa_bridge::store::AuditEntry;
use serde_json::Value;

use super::access::{self, Access};

/// The files `report` writes into `--out`.
pub const FILES: [&str; 3] = ["report.md", "report.csv", "evidence-bundle.json"];

/// `report --help`'s closing text.
pub const AFTER_HELP: &str = "Figures come from the custody ledger of the audit entries stamped \
    inside the period: tickets escalated in it, resolved, first-response and resolution times \
    (business time on the priority's calendar with the mapping's [targets], else wall clock; \
    p50/p90/max per priority), met/breached/near targets, breaches, custody (who held each \
    ticket, how long), dead letters and how each ended. Check the bundle with \
    `psa-bridge audit verify --bundle FILE [--public-key KEY.pub]`. Exit codes: 0 written; \
    1 the store's audit chain is broken (nothing written); 2 bad arguments, a file in \
    --out exists, or a key or the store cannot be used.";

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Configuration file (also from PSA_BRIDGE_CONFIG).
    #[arg(long, short, env = "PSA_BRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The pairing to report on.
    #[arg(long)]
    pub pairing: String,
    /// Start of the period (included): RFC 3339 or YYYY-MM-DD (midnight UTC).
    #[arg(long)]
    pub from: String,
    /// End of the period (excluded): RFC 3339 or YYYY-MM-DD (midnight UTC).
    #[arg(long)]
    pub to: String,
    /// Folder for the three files (created if missing; existing files are never replaced).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Sign the bundle with this private key (`keys generate`); repeat for one key per team.
    #[arg(long = "sign-key", value_name = "FILE")]
    pub sign_keys: Vec<PathBuf>,
}

/// Every audit entry, oldest first.
async fn whole_chain(config: &Path) -> anyhow::Result<Vec<AuditEntry>> {
    match access::connect(config).await? {
        Access::Local(engine) => Ok(engine.store.audit_entries()?),
        remote @ Access::Remote { .. } => {
            let mut entries = Vec::new();
            let mut before: Option<u64> = None;
            loop {
                let after = before.map(|b| format!("&before={b}")).unwrap_or_default();
                let page: Value = remote
                    .get(&format!("/api/v1/activity?limit=500{after}"))
                    .await?;
                let items: Vec<AuditEntry> = serde_json::from_value(page["items"].clone())
                    .context("the daemon's audit entries are not in the expected form")?;
                entries.extend(items);
                match page["next_before"].as_u64() {
                    Some(next) => before = Some(next),
                    None => break,
                }
            }
            entries.reverse();
            Ok(entries)
        }
    }
}

/// `report`: exit 0 with the three files written; 1 when the store's chain
/// is broken; 2 for bad arguments or unusable files.
pub async fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let config = super::required(args.config.clone())?;
    let loaded = access::load_for_inspection(&config)?;
    let Some(pairing) = loaded.pairings.iter().find(|p| p.name == args.pairing) else {
        let names: Vec<&str> = loaded.pairings.iter().map(|p| p.name.as_str()).collect();
        anyhow::bail!(
            "no pairing {:?} in {}; configured pairings: {}",
            args.pairing,
            config.display(),
            names.join(", ")
        );
    };
    let from = parse_since(&args.from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = parse_since(&args.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    if from >= to {
        anyhow::bail!("--from ({from}) must be before --to ({to})");
    }
    let keys = args
        .sign_keys
        .iter()
        .map(|k| sign::read_signing_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let paths: Vec<PathBuf> = FILES.iter().map(|f| args.out.join(f)).collect();
    if let Some(existing) = paths.iter().find(|p| std::fs::symlink_metadata(p).is_ok()) {
        anyhow::bail!(
            "{} exists; refusing to overwrite a report (choose another --out folder)",
            existing.display()
        );
    }

    let chain = whole_chain(&config).await?;
    let body = bundle::build(
        &chain,
        &pairing.name,
        Sides {
            a: pairing.a.clone(),
            b: pairing.b.clone(),
        },
        from,
        to,
        chrono::Utc::now(),
    );
    let summary = match verify_chain(&body) {
        Ok(summary) => summary,
        Err(broken) => {
            eprintln!(
                "the store's audit chain is broken at {broken}; no report written \
                 (run `psa-bridge audit verify`)"
            );
            return Ok(ExitCode::from(1));
        }
    };
    let targets = psa_bridge::accountability::pairing_targets(pairing);
    let report = period_report::build(&body, targets.as_ref());
    let mut bundle = Bundle::new(body);
    let mut signed_by = Vec::new();
    for key in &keys {
        signed_by.push(sign::sign(&mut bundle, key)?);
    }
    let markdown = render::markdown(
        &report,
        &render::EvidenceNote {
            file: FILES[2],
            chain: &summary,
            signed_by: signed_by.clone(),
        },
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    write_new(&paths[0], markdown.as_bytes(), 0o600)?;
    write_new(&paths[1], render::csv(&report).as_bytes(), 0o600)?;
    bundle.write_new(&paths[2])?;
    println!(
        "pairing {}: {} escalated, {} resolved, {} dead letter(s) from {} to {}",
        pairing.name,
        report.escalations.len(),
        report
            .escalations
            .iter()
            .filter(|e| e.times.resolved_at.is_some())
            .count(),
        report.dead_letters.len(),
        from.to_rfc3339(),
        to.to_rfc3339()
    );
    for path in &paths {
        println!("wrote {}", path.display());
    }
    println!(
        "bundle: {} entries, chain head #{} {}{}",
        summary.entries,
        summary.head.seq,
        summary.head.hash,
        if signed_by.is_empty() {
            "; not signed".to_string()
        } else {
            format!("; signed by key id {}", signed_by.join(", "))
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `audit verify --bundle FILE [--public-key KEY ...] [--against-store]`:
/// exit 0 when the chain is intact, every given key signed it and (with
/// `store_config`) it matches the store's chain; 1 when the bundle is
/// unreadable, broken, a key did not sign it or it differs from the store;
/// 2 when a key file, the configuration or the store cannot be used.
pub async fn verify_bundle(
    path: &Path,
    public_keys: &[PathBuf],
    store_config: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let keys = public_keys
        .iter()
        .map(|k| sign::read_public_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let bundle = match Bundle::read(path, MAX_BUNDLE_BYTES) {
        Ok(bundle) => bundle,
        Err(e) => {
            println!("evidence bundle NOT verified: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let body = &bundle.body;
    let summary = match verify_chain(body) {
        Ok(summary) => summary,
        Err(broken) => {
            println!("evidence bundle BROKEN at {broken}");
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "evidence bundle chain intact: pairing {}, {} to {}; {} entries of the pairing, \
         {} of others as hashes; anchor #{} {}; head #{} {}",
        body.pairing,
        body.from.to_rfc3339(),
        body.to.to_rfc3339(),
        summary.entries,
        summary.stubs,
        summary.anchor.seq,
        summary.anchor.hash,
        summary.head.seq,
        summary.head.hash
    );
    if summary.unchecked > 0 {
        println!(
            "{} of the entries shown as hashes predate hash format 2: their hashes are taken \
             as stated (a rewrite just before one shows only with --against-store, a recorded \
             head or a signature)",
            summary.unchecked
        );
    }
    let mut failed = false;
    if let Some(config) = store_config {
        match compare_with_chain(body, &whole_chain(config).await?) {
            Ok(()) => println!(
                "matches this bridge's audit chain: every entry, stub, the anchor and the head"
            ),
            Err(differs) => {
                println!("bundle DIFFERS from this bridge's audit chain at {differs}");
                failed = true;
            }
        }
    }
    for key in &keys {
        match sign::check(&bundle, key) {
            Ok(()) => println!("signature by key {} (id {}): valid", key.path, key.id),
            Err(reason) => {
                println!("signature check FAILED: {reason}");
                failed = true;
            }
        }
    }
    if keys.is_empty() {
        if bundle.signatures.is_empty() {
            println!(
                "not signed: compare the head with one recorded elsewhere (the daemon logs it \
                 hourly) to rely on it"
            );
        } else {
            let ids: Vec<&str> = bundle
                .signatures
                .iter()
                .map(|s| s.key_id.as_str())
                .collect();
            println!(
                "signed by key id {} (not checked: give --public-key FILE)",
                ids.join(", ")
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
