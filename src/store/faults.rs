//! Test-only write-failure injection, and the store's write health.
//!
//! [`Faults`] makes [`super::Store::transact`] and [`super::Store::flush`]
//! fail the way a full or read-only disk does (`StoreError::Sled(Io(..))`),
//! before anything is written. It is off unless a test turns it on: in
//! process with [`Faults::set_write_failure`], or, to drive the real binary,
//! through the file named by `PSA_BRIDGE_TEST_STORE_FAULT_FILE` (writes fail
//! while that file exists; see `psa-bridge run`). Not for production use.
//!
//! [`WriteHealth`] remembers the last write failure until a write succeeds,
//! so `/healthz` can show a store fault while it lasts.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::StoreError;

/// The environment variable `psa-bridge run` reads to arm the fault file.
pub const FAULT_FILE_ENV: &str = "PSA_BRIDGE_TEST_STORE_FAULT_FILE";

#[derive(Default)]
struct Switch {
    kind: Option<ErrorKind>,
    file: Option<PathBuf>,
}

/// Shared fault switch of one store (every clone of the store sees it).
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Switch>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data: a panic elsewhere while holding the lock leaves it usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Faults {
    /// Makes every write fail with `kind` (`None` heals the store).
    pub fn set_write_failure(&self, kind: Option<ErrorKind>) {
        lock(&self.0).kind = kind;
    }

    /// Makes every write fail with `StorageFull` while `file` exists.
    pub fn fail_while_file_exists(&self, file: Option<PathBuf>) {
        lock(&self.0).file = file;
    }

    /// The injected failure, if one is on now.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        let switch = lock(&self.0);
        let kind = match (&switch.kind, &switch.file) {
            (Some(kind), _) => Some(*kind),
            (None, Some(file)) if file.exists() => Some(ErrorKind::StorageFull),
            _ => None,
        };
        match kind {
            None => Ok(()),
            Some(kind) => Err(StoreError::Sled(sled::Error::Io(std::io::Error::new(
                kind,
                format!("injected store fault: {kind}"),
            )))),
        }
    }
}

/// The last failed write, until a write succeeds.
#[derive(Default)]
pub(super) struct WriteHealth(Mutex<Option<String>>);

impl WriteHealth {
    /// Records a failed write (`transact` or `flush`); aborts and
    /// conflicts are the caller's, not the disk's, and are not recorded.
    pub(super) fn failed(&self, error: &StoreError) {
        if let StoreError::Sled(_) = error {
            *lock(&self.0) = Some(error.to_string());
        }
    }

    /// A flush succeeded: what was written is on disk, the fault is over.
    /// (A committed transaction alone proves little: sled buffers it.)
    pub(super) fn flushed(&self) {
        *lock(&self.0) = None;
    }

    pub(super) fn last_failure(&self) -> Option<String> {
        lock(&self.0).clone()
    }
}
