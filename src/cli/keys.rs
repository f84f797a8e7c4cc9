//! `psa-bridge keys generate --out PREFIX`: an Ed25519 key pair for signing
//! evidence bundles (`PREFIX.key`, mode 0600, and `PREFIX.pub`); refused,
//! writing nothing, when either file exists.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use psa_bridge::evidence::sign;

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Write a new key pair: PREFIX.key (private, mode 0600) and PREFIX.pub.
    /// Refused, writing nothing, when either exists.
    Generate {
        /// Path prefix of the two files.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
    },
}

pub fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Generate { out } => generate(&out),
    }
}

fn generate(prefix: &Path) -> anyhow::Result<ExitCode> {
    let id = sign::generate(prefix)?;
    let (private, public) = sign::key_paths(prefix);
    println!(
        "wrote {} (private: keep it secret, mode 0600) and {} (public: give it to \
         whoever checks the bundles); key id {id}",
        private.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}
