//! Owner-only permissions for the store (unix): the store holds ticket
//! contents and vendor ids, so its directory is 0700 and nothing in it is
//! readable by group or others. sled creates its files with the process
//! umask; [`owner_only_umask`] (set by the CLI at start) makes new files
//! 0600, and [`make_private`] (called by `Store::open`) creates the
//! directory 0700 and tightens an existing looser one, with a warning,
//! rather than refusing to start: the directory is the daemon's own.

use std::path::Path;

/// Makes new files and directories of this process owner-only (umask 077).
/// Process-wide: called once by the binary at start, never by the library.
pub fn owner_only_umask() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates the store directory `path` (mode 0700) or tightens an existing
/// one and everything in it to owner-only. Symbolic links inside are left
/// alone (never followed).
pub(crate) fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::DirBuilder::new().mode(0o700).create(path)?;
                // An umask cannot add bits, but be exact.
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
                return Ok(());
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let mut tightened = Vec::new();
        tighten(path, &mut tightened)?;
        if !tightened.is_empty() {
            tracing::warn!(
                store = %path.display(),
                paths = tightened.len(),
                first = %tightened[0],
                "store files were readable by group or others; made owner-only (0700 directories, no group/other bits on files)"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(unix)]
fn tighten(path: &Path, tightened: &mut Vec<String>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o7777;
    let want = if meta.is_dir() { 0o700 } else { mode & 0o700 };
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))?;
        tightened.push(format!("{} (was {mode:o})", path.display()));
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            tighten(&entry?.path(), tightened)?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_store_directory_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("a/b/store");
        make_private(&store).unwrap();
        assert_eq!(mode(&store), 0o700);
    }

    #[test]
    fn an_existing_loose_store_is_tightened_links_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir_all(store.join("blobs")).unwrap();
        std::fs::write(store.join("db"), b"x").unwrap();
        std::fs::write(store.join("blobs/1"), b"x").unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"x").unwrap();
        std::os::unix::fs::symlink(&outside, store.join("link")).unwrap();
        for (p, m) in [
            (store.clone(), 0o755),
            (store.join("blobs"), 0o775),
            (store.join("db"), 0o644),
            (store.join("blobs/1"), 0o666),
            (outside.clone(), 0o644),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        make_private(&store).unwrap();
        assert_eq!(mode(&store), 0o700);
        assert_eq!(mode(&store.join("blobs")), 0o700);
        assert_eq!(mode(&store.join("db")), 0o600);
        assert_eq!(mode(&store.join("blobs/1")), 0o600);
        assert_eq!(mode(&outside), 0o644, "a link's target is not touched");
    }
}
