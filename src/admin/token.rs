//! The admin API's bearer token: `daemon.admin_token` when configured,
//! otherwise generated on first start into `<store_path>.token`, readable by
//! the owner only (mode 0600), where the CLI finds it. The token is never
//! logged.

use std::path::{Path, PathBuf};

use crate::config::{ConfigError, LoadedConfig};
use crate::side_file::{self, SideFileError};

/// Shortest configured token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// Where a generated token is kept: beside the store.
pub fn token_file(store_path: &Path) -> PathBuf {
    side_file::beside(store_path, ".token")
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token file is unusable (a link, someone else's, readable by
    /// others, empty, too short) or cannot be written: permanent until fixed.
    #[error("admin token file {0}")]
    File(#[from] SideFileError),
}

/// The token the daemon requires, and a description of where it came from
/// (for the log; never the token itself). Call it only while holding the
/// store (its lock keeps a second daemon from racing for the file).
pub fn resolve(loaded: &LoadedConfig) -> Result<(String, String), TokenError> {
    if let Some(token) = &loaded.config.daemon.admin_token {
        let token = token.0.trim();
        if token.chars().count() < MIN_TOKEN_LEN || token.chars().any(char::is_whitespace) {
            return Err(ConfigError::new(
                &loaded.path,
                None,
                "daemon.admin_token",
                format!("use at least {MIN_TOKEN_LEN} characters and no spaces"),
            )
            .into());
        }
        return Ok((token.to_string(), "daemon.admin_token".to_string()));
    }
    let path = token_file(&loaded.store_path);
    let token = load_or_create(&path)?;
    Ok((token, path.display().to_string()))
}

/// Reads the token in `path` (see [`side_file::read_private`] for what is
/// refused), or creates it, owner-only and whole, when there is no file.
/// An existing file that is unsafe or empty is an error, never replaced or
/// narrowed: it may be someone else's, or a sign of tampering.
pub fn load_or_create(path: &Path) -> Result<String, SideFileError> {
    match side_file::read_private(path) {
        Ok(token) if token.chars().count() >= MIN_TOKEN_LEN => Ok(token),
        Ok(_) => Err(SideFileError::Unsafe {
            path: path.to_path_buf(),
            problem: format!("holds fewer than {MIN_TOKEN_LEN} characters"),
            fix: "remove it to have a new one generated",
        }),
        Err(e) if e.is_missing() => {
            let token = generate();
            side_file::write_atomic(path, token.as_bytes(), 0o600)?;
            Ok(token)
        }
        Err(e) => Err(e),
    }
}

/// 244 random bits (two v4 UUIDs from the OS generator) as 64 hex digits.
fn generate() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_file(&dir.path().join("store"));
        let first = load_or_create(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(&path).unwrap(), first, "reused on restart");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
        }
    }

    /// A crash can no longer leave an empty file, so an empty or short one
    /// is not ours: refused, not regenerated over (nor accepted).
    #[test]
    fn an_empty_or_short_token_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_file(&dir.path().join("store"));
        for content in ["", "short"] {
            side_file::write_atomic(&path, content.as_bytes(), 0o600).unwrap();
            let err = load_or_create(&path).unwrap_err();
            assert!(matches!(err, SideFileError::Unsafe { .. }), "{err}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_can_read_is_refused_and_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = token_file(&dir.path().join("store"));
        let token = load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(
            err.contains("mode 644") && err.contains("chmod 600"),
            "{err}"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "not silently narrowed");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), token);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_token_file_is_refused_and_its_target_untouched() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("someone-elses");
        std::fs::write(&target, "x".repeat(64)).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = token_file(&dir.path().join("store"));
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "the target is not chmodded");
    }

    /// Another user's file is refused. Needs root to give the file away;
    /// elsewhere the check is covered by reasoning only.
    #[cfg(unix)]
    #[test]
    fn a_token_file_another_user_owns_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_file(&dir.path().join("store"));
        load_or_create(&path).unwrap();
        if std::os::unix::fs::chown(&path, Some(4242), None).is_err() {
            eprintln!("not root: cannot give the file to another user; skipped");
            return;
        }
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("owned by user id 4242"), "{err}");
    }
}
