//! Test support: reopening a store right after its previous handle was
//! dropped. sled's background flusher may still hold the file lock for a
//! moment, so a refused lock is tried again (up to 5 s).

use std::path::Path;

use super::Store;

/// Opens the store at `path` once the previous handle's lock is released.
pub(crate) fn reopen(path: &Path) -> Store {
    let mut tries = 0;
    loop {
        match Store::open(path) {
            Ok(store) => return store,
            Err(e) if tries < 500 && e.to_string().contains("lock") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("reopening the store: {e}"),
        }
    }
}
