//! The bundle file: what it holds ([`Body`]), how it is cut from the chain
//! ([`build`]) and how it is written and read back ([`Bundle`]), refusing
//! anything that is not exactly a bundle of the version this build reads.

use std::io::Write;
use std::path::Path;

use psa_connector::Timestamp;
use serde::{Deserialize, Serialize};

use super::sign::Signature;
use super::EvidenceError;
use crate::side_file::create_new;
use crate::store::{AuditEntry, GENESIS};

/// The `format` field of every bundle.
pub const FORMAT: &str = "psa-bridge-evidence-bundle";
/// The bundle layout this build writes (2: entries carry their hash format
/// `v`, stubs and the gap the content digests of format 2 entries).
pub const VERSION: u64 = 2;
/// The oldest bundle layout this build reads (1: no digests).
pub const OLDEST_VERSION: u64 = 1;
/// Largest bundle `audit verify --bundle` reads (a month of a busy pairing
/// is a few MiB).
pub const MAX_BUNDLE_BYTES: u64 = 256 * 1024 * 1024;

/// A point of the chain: an entry's sequence number and hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainPoint {
    pub seq: u64,
    pub hash: String,
}

/// An audit entry as the bundle carries it: the stored entry's fields, in
/// the stored order (its hash is recomputed from them), and nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub kind: String,
    pub pairing: Option<String>,
    pub link: Option<u64>,
    pub tickets: Vec<String>,
    pub message: String,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
    /// The entry's hash format (absent: 1), see [`crate::store::entry_hash`].
    #[serde(
        default = "crate::store::v1",
        skip_serializing_if = "crate::store::is_v1"
    )]
    pub v: u8,
}

/// Another pairing's entry: its number and hash, and for a format 2 entry
/// its content digest, from which (with the hash before it) the verifier
/// recomputes the hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stub {
    pub seq: u64,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl From<&AuditEntry> for BundleEntry {
    fn from(e: &AuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            kind: e.kind.clone(),
            pairing: e.pairing.clone(),
            link: e.link,
            tickets: e.tickets.clone(),
            message: e.message.clone(),
            detail: e.detail.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
            v: e.v,
        }
    }
}

impl From<&BundleEntry> for AuditEntry {
    fn from(e: &BundleEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            kind: e.kind.clone(),
            pairing: e.pairing.clone(),
            link: e.link,
            tickets: e.tickets.clone(),
            message: e.message.clone(),
            detail: e.detail.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
            v: e.v,
        }
    }
}

/// The digest a stub or gap carries for `e` (format 2 entries only).
fn digest_of(e: &AuditEntry) -> Option<String> {
    (e.v >= 2).then(|| crate::store::content_digest(e))
}

/// One position of the chain inside the bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// An entry of the bundle's pairing, in full.
    Entry(BundleEntry),
    /// An entry of another pairing (or of no pairing) inside the span: its
    /// number and hash (and content digest, format 2).
    Stub(Stub),
    /// The entries after the period up to the head at generation time
    /// (`first..=last`), as the last one's hash, and when all of them are
    /// format 2 their content digests in order.
    Gap {
        first: u64,
        last: u64,
        hash: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        digests: Vec<String>,
    },
}

impl Record {
    /// The first sequence number this record stands for.
    pub fn seq(&self) -> u64 {
        match self {
            Record::Entry(e) => e.seq,
            Record::Stub(p) => p.seq,
            Record::Gap { first, .. } => *first,
        }
    }
}

/// The pairing's two connections, so the report can be recomputed from the
/// bundle alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sides {
    pub a: String,
    pub b: String,
}

/// What a bundle states (and what signatures cover).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub pairing: String,
    pub connections: Sides,
    /// The period: entries stamped `from <= at < to`.
    pub from: Timestamp,
    pub to: Timestamp,
    pub generated_at: Timestamp,
    /// The entry before the first record (`seq` 0 and the genesis hash when
    /// the span starts at the chain's first entry).
    pub anchor: ChainPoint,
    pub records: Vec<Record>,
    /// The chain's newest entry when the bundle was made.
    pub head: ChainPoint,
}

impl Body {
    /// The pairing's entries in the bundle, in chain order.
    pub fn entries(&self) -> impl Iterator<Item = &BundleEntry> {
        self.records.iter().filter_map(|r| match r {
            Record::Entry(e) => Some(e),
            _ => None,
        })
    }
}

/// Cuts the bundle for `pairing` and `[from, to)` out of the whole chain
/// (`chain`: every entry, oldest first). The span runs from the first entry
/// stamped at or after `from` to the last stamped before `to`; everything
/// after it up to the head is one [`Record::Gap`].
pub fn build(
    chain: &[AuditEntry],
    pairing: &str,
    connections: Sides,
    from: Timestamp,
    to: Timestamp,
    generated_at: Timestamp,
) -> Body {
    let point = |e: &AuditEntry| ChainPoint {
        seq: e.seq,
        hash: e.hash.clone(),
    };
    let genesis = ChainPoint {
        seq: 0,
        hash: GENESIS.to_string(),
    };
    let head = chain.last().map(point).unwrap_or_else(|| genesis.clone());
    let start = chain
        .iter()
        .position(|e| e.at >= from)
        .unwrap_or(chain.len());
    let end = chain
        .iter()
        .rposition(|e| e.at < to)
        .map(|i| i + 1)
        .unwrap_or(0)
        .max(start);
    let anchor = match start.checked_sub(1) {
        Some(i) => point(&chain[i]),
        None => genesis,
    };
    let mut records: Vec<Record> = chain[start..end]
        .iter()
        .map(|e| {
            if e.pairing.as_deref() == Some(pairing) {
                Record::Entry(BundleEntry::from(e))
            } else {
                Record::Stub(Stub {
                    seq: e.seq,
                    hash: e.hash.clone(),
                    digest: digest_of(e),
                })
            }
        })
        .collect();
    if let (Some(first), Some(last)) = (chain.get(end), chain.last()) {
        let after = &chain[end..];
        let digests: Option<Vec<String>> = after.iter().map(digest_of).collect();
        records.push(Record::Gap {
            first: first.seq,
            last: last.seq,
            hash: last.hash.clone(),
            digests: digests.unwrap_or_default(),
        });
    }
    Body {
        pairing: pairing.to_string(),
        connections,
        from,
        to,
        generated_at,
        anchor,
        records,
        head,
    }
}

/// The file: format marker, version, body and signatures over the body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub version: u64,
    pub body: Body,
    #[serde(default)]
    pub signatures: Vec<Signature>,
}

/// The two fields read before anything else, so a newer or foreign file is
/// named as such rather than as a list of unknown fields.
#[derive(Deserialize)]
struct Header {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

impl Bundle {
    /// An unsigned bundle of `body`.
    pub fn new(body: Body) -> Self {
        Self {
            format: FORMAT.to_string(),
            version: VERSION,
            body,
            signatures: Vec::new(),
        }
    }

    /// The file's bytes (indented JSON).
    pub fn to_json(&self) -> Result<Vec<u8>, EvidenceError> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|e| EvidenceError::Encode(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Writes the bundle to `path`, which must not exist yet, owner-only
    /// (it holds ticket contents; share it on purpose).
    pub fn write_new(&self, path: &Path) -> Result<(), EvidenceError> {
        let bytes = self.to_json()?;
        write_new(path, &bytes, 0o600)
    }

    /// Reads a bundle file of at most `limit` bytes.
    pub fn read(path: &Path, limit: u64) -> Result<Self, EvidenceError> {
        let name = path.display().to_string();
        let io = |source| EvidenceError::Io {
            path: name.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size > limit {
            return Err(EvidenceError::TooLarge {
                path: name,
                size,
                limit,
            });
        }
        let mut bytes = Vec::new();
        // Bounded even if the file grows between the check and the read.
        std::io::Read::read_to_end(&mut std::io::Read::take(file, limit + 1), &mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(EvidenceError::TooLarge {
                path: name,
                size: bytes.len() as u64,
                limit,
            });
        }
        Self::parse(&name, &bytes)
    }

    /// Parses a bundle; `name` is used in error messages.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self, EvidenceError> {
        let text = std::str::from_utf8(bytes).map_err(|e| EvidenceError::NotText {
            path: name.to_string(),
            offset: e.valid_up_to(),
        })?;
        let format_error = |reason: String| EvidenceError::Format {
            path: name.to_string(),
            reason,
        };
        let header: Header = serde_json::from_str(text).map_err(|e| {
            format_error(if e.is_eof() {
                format!("the file ends early (truncated?): {e}")
            } else {
                format!("not a JSON object: {e}")
            })
        })?;
        match header.format.as_ref().and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(format_error(format!(
                    "its format is {other:?}, not {FORMAT:?}"
                )))
            }
            None => return Err(format_error(format!("no \"format\": {FORMAT:?} field"))),
        }
        match header.version.as_ref().map(|v| v.as_u64()) {
            Some(Some(OLDEST_VERSION..=VERSION)) => {}
            Some(Some(found)) => {
                return Err(EvidenceError::Version {
                    path: name.to_string(),
                    found,
                    supported: VERSION,
                })
            }
            _ => return Err(format_error("no whole-number \"version\" field".into())),
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de)
            .map_err(|e| format_error(format!("at {}: {}", e.path(), e.inner())))
    }
}

/// Creates `path` (never replacing anything, never following a link) with
/// `contents` and `mode` (unix).
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), EvidenceError> {
    let name = path.display().to_string();
    let mut file = create_new(path, mode).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            EvidenceError::Exists { path: name.clone() }
        } else {
            EvidenceError::Io {
                path: name.clone(),
                source,
            }
        }
    })?;
    // The mode asked for, whatever the umask (a public key is for sharing).
    #[cfg(unix)]
    let written = {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
    };
    #[cfg(not(unix))]
    let written = Ok(());
    let written = written
        .and_then(|()| file.write_all(contents))
        .and_then(|()| file.sync_all());
    if let Err(source) = written {
        let _ = std::fs::remove_file(path);
        return Err(EvidenceError::Io { path: name, source });
    }
    Ok(())
}
