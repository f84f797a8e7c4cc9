//! `Store::open` on new, old, newer, foreign and damaged directories.

use std::path::{Path, PathBuf};

use super::*;

fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
                out.push((path, Vec::new()));
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// File names under `dir` except sled's snapshots (which sled rewrites on
/// every open, before our checks run).
fn names(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = listing(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| !p.to_string_lossy().contains("snap."))
        .collect();
    out.sort();
    out
}

/// A tree's name and records.
type TreeDump = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);

/// Every tree of the sled db at `path` with its records.
fn logical(path: &Path) -> Vec<TreeDump> {
    let db = sled::open(path).unwrap();
    let mut trees: Vec<_> = db
        .tree_names()
        .into_iter()
        .map(|name| {
            let tree = db.open_tree(&name).unwrap();
            let kvs = tree
                .iter()
                .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect();
            (name.to_vec(), kvs)
        })
        .collect();
    trees.sort();
    trees
}

/// A store with a few records, closed.
fn written_store(path: &Path) {
    let store = Store::open(path).unwrap();
    store
        .transact(|tx| tx.put(TreeName::Cursors, b"autotask", &"2024-01-01T00:00:00Z"))
        .unwrap();
    store.db.flush().unwrap();
}

#[test]
fn a_new_store_records_product_and_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    written_store(&path);
    let db = sled::open(&path).unwrap();
    let meta = db.open_tree("meta").unwrap();
    let version: u64 =
        serde_json::from_slice(&meta.get("format_version").unwrap().unwrap()).unwrap();
    let product: String = serde_json::from_slice(&meta.get("product").unwrap().unwrap()).unwrap();
    assert_eq!((version, product.as_str()), (FORMAT_VERSION, PRODUCT));
    drop((meta, db));
    Store::open(&path).expect("reopens");
}

#[test]
fn a_newer_format_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    written_store(&path);
    format::set_version(&sled::open(&path).unwrap(), FORMAT_VERSION + 1);
    let before = (names(&path), logical(&path));
    let err = Store::open(&path).err().expect("refused");
    assert!(matches!(err, StoreError::NewerFormat { found, .. } if found == FORMAT_VERSION + 1));
    assert!(err.is_unusable_store());
    let text = err.to_string();
    assert!(
        text.contains("newer psa-bridge") && text.contains("restore a backup"),
        "{text}"
    );
    assert!((names(&path), logical(&path)) == before, "nothing written");
}

#[test]
fn a_store_from_before_versioning_is_adopted_and_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    written_store(&path);
    {
        let db = sled::open(&path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.remove("format_version").unwrap();
        meta.remove("product").unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&path).expect("adopted");
    assert!(store.cursor("autotask").is_ok(), "records kept");
    let version: u64 = store
        .get(TreeName::Meta, b"format_version")
        .unwrap()
        .unwrap();
    // Its entries keep hash format 1 (`evidence::hash_format_tests`).
    assert_eq!(version, FORMAT_VERSION);
}

#[test]
fn another_programs_sled_db_is_foreign_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    {
        let db = sled::open(&path).unwrap();
        db.open_tree("users").unwrap().insert("alice", "x").unwrap();
        db.flush().unwrap();
    }
    let before = logical(&path);
    let err = Store::open(&path).err().expect("refused");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("not a psa-bridge store"), "{err}");
    assert!(logical(&path) == before, "no tree of ours created");

    // Data in sled's default tree, or a meta tree with another product.
    let other = dir.path().join("t");
    sled::open(&other).unwrap().insert("k", "v").unwrap();
    let err = Store::open(&other).err().expect("refused");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    let third = dir.path().join("u");
    {
        let db = sled::open(&third).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("product", &b"\"something else\""[..]).unwrap();
        meta.insert("format_version", &b"1"[..]).unwrap();
    }
    let err = Store::open(&third).err().expect("refused");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
}

#[test]
fn a_directory_of_other_files_or_a_file_is_foreign_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photos");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("holiday.jpg"), b"not a store").unwrap();
    let before = listing(&path);
    let err = Store::open(&path).err().expect("refused");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(listing(&path) == before, "written to");

    let file = dir.path().join("file");
    std::fs::write(&file, b"hello").unwrap();
    let err = Store::open(&file).err().expect("refused");
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"hello");
}

/// Damages a closed store with `damage` and opens it: it must not panic,
/// and a refusal must be a clear error that wrote nothing.
fn open_damaged(damage: impl FnOnce(&Path)) -> Result<Store, StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    written_store(&path);
    damage(&path);
    let before = names(&path);
    let outcome = Store::open(&path);
    if let Err(e) = &outcome {
        assert!(e.is_unusable_store(), "{e:?}");
        assert!(names(&path) == before, "refused but written to: {e}");
    }
    outcome
}

/// Opened despite the damage: only acceptable with the records intact.
fn intact(outcome: Result<Store, StoreError>) -> bool {
    match outcome {
        Err(_) => false,
        Ok(store) => store.cursor("autotask").unwrap().is_some(),
    }
}

#[test]
fn damaged_directories_are_refused_without_a_panic() {
    // `db` replaced by a directory.
    let err = open_damaged(|p| {
        std::fs::remove_file(p.join("db")).unwrap();
        std::fs::create_dir(p.join("db")).unwrap();
    });
    assert!(
        matches!(err, Err(StoreError::CorruptStore { .. })),
        "{:?}",
        err.err()
    );
    // Random bytes in `conf`.
    let err = open_damaged(|p| std::fs::write(p.join("conf"), b"\x00\xffgarbage\x13\x37").unwrap());
    assert!(
        matches!(err, Err(StoreError::CorruptStore { .. })),
        "{:?}",
        err.err()
    );
    // `db` of random bytes: sled opens it as an empty db; we refuse it.
    let err = open_damaged(|p| {
        let len = std::fs::metadata(p.join("db")).unwrap().len() as usize;
        let noise: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        std::fs::write(p.join("db"), noise).unwrap();
    });
    assert!(
        matches!(err, Err(StoreError::CorruptStore { .. })),
        "{:?}",
        err.err()
    );
    // Flipped bytes all over `db`: refused, or sled recovered the records.
    let outcome = open_damaged(|p| {
        let mut bytes = std::fs::read(p.join("db")).unwrap();
        for i in (0..bytes.len()).step_by(97) {
            bytes[i] ^= 0x5a;
        }
        std::fs::write(p.join("db"), &bytes).unwrap();
    });
    assert!(
        outcome.as_ref().is_err() || intact(outcome),
        "flipped bytes opened with records lost"
    );
    // A truncated `db` looks to sled like a crash's torn tail: it opens
    // with what is left (records after the cut are lost; see
    // docs/reliability.md). What matters here: no panic, no wrong error.
    let _ = open_damaged(|p| {
        let bytes = std::fs::read(p.join("db")).unwrap();
        std::fs::write(p.join("db"), &bytes[..bytes.len() / 3]).unwrap();
    });
}
#[cfg(unix)]
#[test]
fn an_unreadable_directory_is_reported_as_such() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    written_store(&path);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read_dir(&path).is_ok() {
        // Running as root: permissions do not stop us; nothing to test.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        return;
    }
    let err = Store::open(&path).err().expect("refused");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(matches!(err, StoreError::Unreadable { .. }), "{err:?}");
}
