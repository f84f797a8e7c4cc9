//! Evidence bundles: the audit entries of one pairing and one period, in a
//! file anyone can check offline (`psa-bridge audit verify --bundle FILE`),
//! optionally signed with Ed25519 keys.
//!
//! The audit chain is one chain across all pairings. A bundle carries the
//! pairing's own entries in full and every other entry inside the period's
//! span only as a stub (sequence number and hash), so one client's bundle
//! discloses nothing of another's while the sequence still runs without a
//! hole from the anchor (the entry before the span) to the chain head at
//! generation time. What that proves, and what it cannot, is written down in
//! `docs/security.md` ("Evidence bundles").
//!
//! [`bundle`] builds and reads the file, [`verify`] checks the chain, [`sign`]
//! holds keys and signatures.

pub mod bundle;
pub mod sign;
pub mod verify;

#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod hash_format_tests;
#[cfg(test)]
mod tests;

pub use bundle::{Body, Bundle, BundleEntry, ChainPoint, Record};
pub use verify::{compare_with_chain, verify_chain, Broken, ChainSummary};

/// Why a bundle or key file cannot be used. All permanent: the file must be
/// replaced or the command's arguments changed; retrying does not help.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes; an evidence bundle is at most {limit} bytes")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path} is not UTF-8 text (invalid byte at offset {offset}): not an evidence bundle")]
    NotText { path: String, offset: usize },
    #[error("{path} is not an evidence bundle: {reason}")]
    Format { path: String, reason: String },
    #[error("{path} is an evidence bundle of format version {found}; this psa-bridge reads versions 1 to {supported}")]
    Version {
        path: String,
        found: u64,
        supported: u64,
    },
    #[error("key file {path}: {reason}")]
    Key { path: String, reason: String },
    #[error(
        "{path} exists; refusing to overwrite it (choose another --out prefix, or move it away)"
    )]
    Exists { path: String },
    #[error("cannot encode the bundle: {0}")]
    Encode(String),
}
