//! Test-only write-failure injection, and the store's write health.
//!
//! [`Faults`] makes [`super::Store::transact`] and [`super::Store::flush`]
//! fail the way a full or read-only disk does (`StoreError::Sled(Io(..))`),
//! before anything is written. It is off unless a test turns it on: in
//! process with [`Faults::set_write_failure`], or, to drive the real binary,
//! through the file named by `PSA_BRIDGE_TEST_STORE_FAULT_FILE` (writes fail
//! while that file exists; see `psa-bridge run`). Not for production use.
//!
//! [`WriteHealth`] remembers the last write failure until a flush succeeds,
//! so `/healthz` can show a store fault while it lasts. It also remembers a
//! real I/O error from sled: sled 0.34 keeps such an error and fails every
//! later write with it, even once the disk has room again, and holds its
//! lock until the process ends, so only a restart of the process recovers
//! (`psa-bridge run` exits with code 4 once the disk is writable again).

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The last failed write, until a flush succeeds; whether sled is stuck.
#[derive(Default)]
pub(super) struct WriteHealth {
    last: Mutex<Option<String>>,
    stuck: AtomicBool,
}

impl WriteHealth {
    /// Records a failed write (`transact` or `flush`); aborts and
    /// conflicts are the caller's, not the disk's, and are not recorded.
    /// `real`: the error came from sled, not from the fault switch.
    pub(super) fn failed(&self, error: &StoreError, real: bool) {
        if let StoreError::Sled(e) = error {
            *lock(&self.last) = Some(error.to_string());
            if real && matches!(e, sled::Error::Io(_)) {
                self.stuck.store(true, Ordering::SeqCst);
            }
        }
    }

    /// A flush succeeded: what was written is on disk, the fault is over.
    /// (A committed transaction alone proves little: sled buffers it.)
    pub(super) fn flushed(&self) {
        *lock(&self.last) = None;
    }

    pub(super) fn stuck(&self) -> bool {
        self.stuck.load(Ordering::SeqCst)
    }

    pub(super) fn last_failure(&self) -> Option<String> {
        lock(&self.last).clone()
    }
}
