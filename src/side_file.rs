//! Small files the daemon keeps beside its store (`<store_path>.token`,
//! `<store_path>.addr`): one way to name, write and read them.
//!
//! Writing never leaves a half-written file and never follows a link: the
//! content goes to a fresh temporary file in the same folder (created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` and its final mode, so it is never
//! readable by others, not even for a moment), is synced, then renamed over
//! the target (a rename replaces a symlink itself, not what it points to).
//!
//! Reading a private file ([`read_private`]) refuses a symlink, anything but
//! a regular file, a file another user owns, a file group or others can
//! read or write, and an empty file, each with an error that says what to do.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `<store_path><suffix>`, e.g. `data/psa.db.token`.
pub fn beside(store_path: &Path, suffix: &str) -> PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Why a private side file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SideFileError {
    /// Permanent until an operator fixes the file.
    #[error("{}: {problem}; {fix}", path.display())]
    Unsafe {
        path: PathBuf,
        problem: String,
        fix: &'static str,
    },
    /// Disk or permission error (possibly transient).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SideFileError {
    /// Whether the file does not exist (the only case where creating it is right).
    pub fn is_missing(&self) -> bool {
        matches!(self, SideFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SideFileError + '_ {
    move |source| SideFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Replaces `path` with `contents` atomically; the file gets `mode` (unix).
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), SideFileError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut file = create_new(&temp, mode)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // The rename itself is durable once the folder is synced.
        if let Ok(folder) = std::fs::File::open(dir) {
            let _ = folder.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(io(path))
}

/// Creates `path` (never over an existing file, never through a link) with `mode`.
#[cfg(unix)]
pub(crate) fn create_new(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
pub(crate) fn create_new(path: &Path, _mode: u32) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Reads a file only its owner may read (see the module documentation);
/// returns its content trimmed.
pub fn read_private(path: &Path) -> Result<String, SideFileError> {
    let unsafe_file = |problem: String, fix: &'static str| SideFileError::Unsafe {
        path: path.to_path_buf(),
        problem,
        fix,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io(path))?;
    if meta.file_type().is_symlink() {
        return Err(unsafe_file(
            "is a symbolic link".into(),
            "remove it; the daemon writes a fresh one",
        ));
    }
    if !meta.is_file() {
        return Err(unsafe_file(
            "is not a regular file".into(),
            "remove it; the daemon writes a fresh one",
        ));
    }
    let mut file = open_no_follow(path).map_err(io(path))?;
    // Checked on the open file, so a swap after the checks above is caught.
    let meta = file.metadata().map_err(io(path))?;
    check_owner_only(&meta).map_err(|problem| {
        unsafe_file(
            problem,
            "make it owned by the user that runs psa-bridge with mode 0600 (chmod 600), \
             or remove it to have a new one generated",
        )
    })?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io(path))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(unsafe_file(
            "is empty".into(),
            "remove it to have a new one generated",
        ));
    }
    Ok(text.to_string())
}

/// Opens `path` for reading, refusing a symbolic link at the last component.
#[cfg(unix)]
pub(crate) fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
pub(crate) fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Whether an open file is owned by this process's user and closed to
/// group and others; the problem in words if not.
#[cfg(unix)]
pub(crate) fn check_owner_only(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "is owned by user id {}, not by this process's user id {me}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "has mode {:o}: group or others can read or write it",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_owner_only(_meta: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn written_whole_with_its_mode_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = beside(&dir.path().join("store"), ".token");
        assert_eq!(path, dir.path().join("store.token"));
        write_atomic(&path, b"secret-token-1234\n", 0o600).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(read_private(&path).unwrap(), "secret-token-1234");
        write_atomic(&path, b"another", 0o600).unwrap();
        assert_eq!(read_private(&path).unwrap(), "another");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    }

    #[test]
    fn writing_replaces_a_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "do not touch").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = dir.path().join("store.token");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_atomic(&path, b"fresh", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "do not touch");
        assert_eq!(mode(&target), 0o644, "the link's target is not chmodded");
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn reading_refuses_links_loose_modes_empty_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        write_atomic(&real, b"secret-token-1234", 0o600).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = read_private(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = read_private(&real).unwrap_err();
        assert!(err.to_string().contains("mode 640"), "{err}");
        assert_eq!(mode(&real), 0o640, "reading never changes the mode");

        let empty = dir.path().join("empty");
        write_atomic(&empty, b"  \n", 0o600).unwrap();
        let err = read_private(&empty).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");

        let err = read_private(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");

        let err = read_private(&dir.path().join("missing")).unwrap_err();
        assert!(err.is_missing(), "{err}");
    }
}
