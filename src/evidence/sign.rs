//! Ed25519 keys and bundle signatures.
//!
//! Key files are one line of text: `psa-bridge-ed25519-private-key:<base64
//! of the 32-byte seed>` (mode 0600, refused when group or others can read
//! it, or when it is a link) and `psa-bridge-ed25519-public-key:<base64 of
//! the 32-byte key>`. A key is named by its id: the first 16 hex digits of
//! the SHA-256 of the public key. A signature covers a domain string and the
//! bundle's body as serialised by this build (the same determinism the
//! chain's hashes rely on).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bundle::{write_new, Body, Bundle};
use super::EvidenceError;
use crate::side_file::{check_owner_only, open_no_follow};

const PRIVATE_PREFIX: &str = "psa-bridge-ed25519-private-key:";
const PUBLIC_PREFIX: &str = "psa-bridge-ed25519-public-key:";
/// Signed before the body, so a bundle signature is never valid for anything else.
const DOMAIN: &[u8] = b"psa-bridge evidence bundle v1\n";
const ALGORITHM: &str = "ed25519";
const MAX_KEY_FILE: u64 = 4096;

/// One signature of a bundle's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub algorithm: String,
    /// Which key signed: see [`key_id`].
    pub key_id: String,
    /// Base64 of the 64-byte Ed25519 signature.
    pub signature: String,
}

/// A public key read from a file, with its id and the file's name.
#[derive(Debug)]
pub struct PublicKey {
    pub key: VerifyingKey,
    pub id: String,
    pub path: String,
}

/// The first 16 hex digits of the SHA-256 of the public key.
pub fn key_id(key: &VerifyingKey) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `PREFIX.key` and `PREFIX.pub`.
pub fn key_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    let with = |suffix: &str| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    (with(".key"), with(".pub"))
}

/// Generates a key pair into `PREFIX.key` (mode 0600) and `PREFIX.pub`;
/// refuses, writing nothing, when either exists. Returns the key id.
pub fn generate(prefix: &Path) -> Result<String, EvidenceError> {
    let (private, public) = key_paths(prefix);
    for path in [&private, &public] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(EvidenceError::Exists {
                path: path.display().to_string(),
            });
        }
    }
    let mut seed = [0u8; 32];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut seed).map_err(|e| {
        EvidenceError::Key {
            path: private.display().to_string(),
            reason: format!("the operating system's random source failed: {e}"),
        }
    })?;
    let key = SigningKey::from_bytes(&seed);
    let b64 = base64::engine::general_purpose::STANDARD;
    let private_text = format!("{PRIVATE_PREFIX}{}\n", b64.encode(seed));
    let public_text = format!(
        "{PUBLIC_PREFIX}{}\n",
        b64.encode(key.verifying_key().as_bytes())
    );
    write_new(&private, private_text.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public, public_text.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&private);
        return Err(e);
    }
    Ok(key_id(&key.verifying_key()))
}

/// Reads a key file's one line (bounded, UTF-8, not through a link), with
/// the file's metadata.
fn read_key_text(path: &Path) -> Result<(std::fs::Metadata, String), EvidenceError> {
    let key_error = |reason: String| EvidenceError::Key {
        path: path.display().to_string(),
        reason,
    };
    let link = std::fs::symlink_metadata(path).map_err(|e| key_error(e.to_string()))?;
    if link.file_type().is_symlink() {
        return Err(key_error(
            "is a symbolic link; give the key file itself".into(),
        ));
    }
    // Checked on the open file, so a swap after the check above is caught.
    let mut file = open_no_follow(path).map_err(|e| key_error(e.to_string()))?;
    let meta = file.metadata().map_err(|e| key_error(e.to_string()))?;
    if !meta.is_file() {
        return Err(key_error("is not a regular file".into()));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(key_error(format!(
            "is {} bytes; a key file is one short line",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut file, MAX_KEY_FILE),
        &mut bytes,
    )
    .map_err(|e| key_error(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| key_error("is not text".into()))?;
    Ok((meta, text.trim().to_string()))
}

fn decode_key(text: &str, prefix: &str, other: &str, what: &str) -> Result<[u8; 32], String> {
    let Some(encoded) = text.strip_prefix(prefix) else {
        if text.starts_with(other) {
            return Err(format!(
                "is the wrong half of the key pair: give the {what} key file"
            ));
        }
        return Err(format!(
            "is not a psa-bridge {what} key (it should be one line starting {prefix:?}; \
             make one with `psa-bridge keys generate`)"
        ));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("the key is not valid base64: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("the key is {} bytes, not 32", b.len()))
}

/// Reads a private key for signing (owner-only file, see the module doc).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, EvidenceError> {
    let key_error = |reason: String| EvidenceError::Key {
        path: path.display().to_string(),
        reason,
    };
    let (meta, text) = read_key_text(path)?;
    let seed = decode_key(&text, PRIVATE_PREFIX, PUBLIC_PREFIX, "private").map_err(key_error)?;
    check_owner_only(&meta)
        .map_err(|problem| {
            format!("{problem}; chmod 600 it (and consider the key exposed: generate a new one)")
        })
        .map_err(key_error)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key for checking signatures.
pub fn read_public_key(path: &Path) -> Result<PublicKey, EvidenceError> {
    let name = path.display().to_string();
    let key_error = |reason: String| EvidenceError::Key {
        path: name.clone(),
        reason,
    };
    let (_, text) = read_key_text(path)?;
    let bytes = decode_key(&text, PUBLIC_PREFIX, PRIVATE_PREFIX, "public").map_err(key_error)?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| key_error("is not a valid Ed25519 public key".into()))?;
    Ok(PublicKey {
        id: key_id(&key),
        key,
        path: name,
    })
}

/// The bytes a signature covers.
fn message(body: &Body) -> Result<Vec<u8>, EvidenceError> {
    let mut bytes = DOMAIN.to_vec();
    serde_json::to_writer(&mut bytes, body).map_err(|e| EvidenceError::Encode(e.to_string()))?;
    Ok(bytes)
}

/// Adds `key`'s signature (replacing an earlier one by the same key).
pub fn sign(bundle: &mut Bundle, key: &SigningKey) -> Result<String, EvidenceError> {
    let id = key_id(&key.verifying_key());
    let signature = key.sign(&message(&bundle.body)?);
    bundle.signatures.retain(|s| s.key_id != id);
    bundle.signatures.push(Signature {
        algorithm: ALGORITHM.to_string(),
        key_id: id.clone(),
        signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
    });
    Ok(id)
}

/// Checks that `key` signed this bundle's body; the error says why not and
/// names the key.
pub fn check(bundle: &Bundle, key: &PublicKey) -> Result<(), String> {
    let named = format!("key {} (id {})", key.path, key.id);
    if bundle.signatures.is_empty() {
        return Err(format!(
            "the bundle is not signed, so {named} cannot have signed it"
        ));
    }
    let Some(found) = bundle.signatures.iter().find(|s| s.key_id == key.id) else {
        let ids: Vec<&str> = bundle
            .signatures
            .iter()
            .map(|s| s.key_id.as_str())
            .collect();
        return Err(format!(
            "{named} did not sign this bundle (it is signed by key id {})",
            ids.join(", ")
        ));
    };
    if found.algorithm != ALGORITHM {
        return Err(format!(
            "the signature for {named} uses {:?}, not {ALGORITHM}",
            found.algorithm
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&found.signature)
        .map_err(|_| format!("the signature for {named} is not valid base64"))?;
    let signature = ed25519_dalek::Signature::from_slice(&bytes)
        .map_err(|_| format!("the signature for {named} is not 64 bytes"))?;
    let message = message(&bundle.body).map_err(|e| e.to_string())?;
    key.key.verify_strict(&message, &signature).map_err(|_| {
        format!("the signature for {named} does not match: the bundle was changed after signing")
    })
}
