//! What makes a directory a psa-bridge store, checked before anything is
//! written to it: sled opened without letting a panic escape, no trees or
//! data that are not ours, a product marker and a format version this build
//! reads. A new store is stamped with both (one atomic batch, flushed).
//!
//! A store written before versioning (our trees only, no marker) is adopted
//! as format 1: that is the layout those builds wrote.

use std::cell::RefCell;
use std::io::ErrorKind;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use super::{StoreError, TREE_NAMES};

/// The store layout this build writes and the newest it reads. 2: audit
/// entries are hashed in format 2 (`store::audit`), which builds reading
/// format 1 would report as altered. A format 1 store is adopted as it is
/// (its entries keep format 1 and verify as before; new entries are
/// format 2) and re-stamped, so an older build refuses it.
pub const FORMAT_VERSION: u64 = 2;
/// Written beside the version, so another program's sled db is told apart.
pub const PRODUCT: &str = "psa-bridge store";

const VERSION_KEY: &[u8] = b"format_version";
const PRODUCT_KEY: &[u8] = b"product";
const META: &str = "meta";
/// sled's own default tree; psa-bridge never writes to it.
const DEFAULT_TREE: &[u8] = b"__sled__default";

/// Whether `path` already holds a non-empty sled data file (checked before
/// opening: sled creates one).
pub(super) fn has_data(path: &Path) -> bool {
    std::fs::metadata(path.join("db")).is_ok_and(|m| m.len() > 0)
}

/// Opens the sled db at `path` after checking the directory holds a sled db
/// (or nothing), turning sled's errors and panics into [`StoreError`]s.
pub(super) fn open_db(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    let shown = path.display().to_string();
    precheck(path, &shown)?;
    let opened = quietly(|| {
        sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
    });
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(sled::Error::Io(e))) if e.kind() == ErrorKind::PermissionDenied => {
            Err(StoreError::Unreadable {
                path: shown,
                reason: e.to_string(),
            })
        }
        Ok(Err(
            e @ (sled::Error::Corruption { .. }
            | sled::Error::Unsupported(_)
            | sled::Error::ReportableBug(_)),
        )) => Err(StoreError::CorruptStore {
            path: shown,
            reason: e.to_string(),
        }),
        Ok(Err(source)) => Err(StoreError::Open {
            path: shown,
            source,
        }),
        Err(panic) => Err(StoreError::CorruptStore {
            path: shown,
            reason: format!("the storage engine failed reading it ({panic})"),
        }),
    }
}

/// Refuses, before sled creates anything, a path that is not a directory
/// or a non-empty directory without sled's files (someone else's data).
fn precheck(path: &Path, shown: &str) -> Result<(), StoreError> {
    let unreadable = |e: std::io::Error| StoreError::Unreadable {
        path: shown.to_string(),
        reason: e.to_string(),
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(unreadable(e)),
    };
    if !meta.is_dir() {
        return Err(StoreError::Foreign {
            path: shown.to_string(),
            reason: "it is a file, not a store directory".into(),
        });
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path).map_err(unreadable)? {
        names.push(entry.map_err(unreadable)?.file_name());
    }
    let sled_file = |n: &std::ffi::OsString| n == "db" || n == "conf";
    if !names.is_empty() && !names.iter().any(sled_file) {
        return Err(StoreError::Foreign {
            path: shown.to_string(),
            reason: "the directory holds other files and no store".into(),
        });
    }
    match std::fs::metadata(path.join("db")) {
        Ok(db) if !db.is_file() => Err(StoreError::CorruptStore {
            path: shown.to_string(),
            reason: "its `db` is not a file".into(),
        }),
        Err(e) if e.kind() != ErrorKind::NotFound => Err(unreadable(e)),
        _ => Ok(()),
    }
}

/// Checks the opened db is ours and of a format this build reads; stamps a
/// new (or pre-versioning) store. Runs before any of our trees is created,
/// so a foreign db is left as it was. `had_data`: the data file existed
/// and was not empty before sled opened it.
pub(super) fn check_and_stamp(
    db: &sled::Db,
    path: &Path,
    had_data: bool,
) -> Result<(), StoreError> {
    let shown = path.display().to_string();
    let foreign = |reason: String| StoreError::Foreign {
        path: shown.clone(),
        reason,
    };
    let names = db.tree_names();
    if let Some(other) = names.iter().find(|n| {
        n.as_ref() != DEFAULT_TREE && !TREE_NAMES.iter().any(|t| t.as_bytes() == n.as_ref())
    }) {
        return Err(foreign(format!(
            "it has a tree named {:?}",
            String::from_utf8_lossy(other)
        )));
    }
    if !db.is_empty() {
        return Err(foreign("its default tree holds data".into()));
    }
    let has_meta = names.iter().any(|n| n.as_ref() == META.as_bytes());
    if has_meta {
        let meta = db.open_tree(META)?;
        if let Some(version) = meta.get(VERSION_KEY)? {
            if check_marker(&meta, &version, &shown)? < FORMAT_VERSION {
                tracing::info!(path = %shown, "store of an older format: new audit entries use hash format 2; stamped as format {FORMAT_VERSION}");
                return stamp(db);
            }
            return Ok(());
        }
        if meta.get(PRODUCT_KEY)?.is_some() {
            return Err(StoreError::CorruptStore {
                path: shown,
                reason: "its product marker has no format version".into(),
            });
        }
        tracing::info!(path = %shown, "store written before format versioning: adopted as format {FORMAT_VERSION}");
    } else if had_data {
        // sled drops what fails its checksums as a torn tail, so a damaged
        // data file can open as an empty db; every store of ours has a
        // meta tree from its first open on.
        return Err(StoreError::CorruptStore {
            path: shown,
            reason: "its data file holds no readable store".into(),
        });
    }
    stamp(db)
}

/// The store's format version, if this build reads it.
fn check_marker(meta: &sled::Tree, version: &[u8], shown: &str) -> Result<u64, StoreError> {
    let product = meta.get(PRODUCT_KEY)?;
    let product: Option<String> = product.and_then(|p| serde_json::from_slice(&p).ok());
    if product.as_deref() != Some(PRODUCT) {
        return Err(StoreError::Foreign {
            path: shown.to_string(),
            reason: format!("its product marker is {product:?}"),
        });
    }
    let found: u64 = serde_json::from_slice(version).map_err(|e| StoreError::CorruptStore {
        path: shown.to_string(),
        reason: format!("its format version is unreadable: {e}"),
    })?;
    if found > FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            path: shown.to_string(),
            found,
            supported: FORMAT_VERSION,
        });
    }
    if found == 0 {
        return Err(StoreError::CorruptStore {
            path: shown.to_string(),
            reason: "its format version is 0".into(),
        });
    }
    Ok(found)
}

/// Writes product marker and version in one atomic batch, then flushes.
fn stamp(db: &sled::Db) -> Result<(), StoreError> {
    let encode = |v: serde_json::Value| serde_json::to_vec(&v).unwrap_or_default();
    let mut batch = sled::Batch::default();
    batch.insert(PRODUCT_KEY, encode(PRODUCT.into()));
    batch.insert(VERSION_KEY, encode(FORMAT_VERSION.into()));
    db.open_tree(META)?.apply_batch(batch)?;
    db.flush()?;
    Ok(())
}

/// Test hook: overwrites the format version (e.g. to a newer one).
#[cfg(test)]
pub(super) fn set_version(db: &sled::Db, version: u64) {
    let meta = db.open_tree(META).unwrap();
    meta.insert(VERSION_KEY, serde_json::to_vec(&version).unwrap())
        .unwrap();
    db.flush().unwrap();
}

thread_local! {
    /// Set while [`quietly`] runs on this thread: panics are captured here
    /// instead of printed.
    static CAPTURED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f`, turning a panic into `Err(message)` without the panic text
/// on stderr (other threads' panics are printed as before).
fn quietly<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let quiet = CAPTURED.with(|c| {
                let mut c = c.borrow_mut();
                match c.as_mut() {
                    Some(slot) => {
                        *slot = info.to_string();
                        true
                    }
                    None => false,
                }
            });
            if !quiet {
                previous(info);
            }
        }));
    });
    CAPTURED.with(|c| *c.borrow_mut() = Some(String::new()));
    let result = catch_unwind(AssertUnwindSafe(f));
    let message = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    result.map_err(|_| {
        let line = message.lines().last().unwrap_or("panic").trim().to_string();
        if line.is_empty() {
            "panic".into()
        } else {
            line
        }
    })
}
