//! The admin API's bearer token: `daemon.admin_token` when configured,
//! otherwise generated on first start into `<store_path>.token`, readable by
//! the owner only (mode 0600), where the CLI finds it. The token is never
//! logged.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{ConfigError, LoadedConfig};

/// Shortest configured token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// Where a generated token is kept: beside the store.
pub fn token_file(store_path: &Path) -> PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push(".token");
    PathBuf::from(name)
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("admin token file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The token the daemon requires, and a description of where it came from
/// (for the log; never the token itself).
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
    let token = load_or_create(&path).map_err(|source| TokenError::Io {
        path: path.clone(),
        source,
    })?;
    Ok((token, path.display().to_string()))
}

/// Reads the token in `path`, creating it (owner-only) when missing or empty.
pub fn load_or_create(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= MIN_TOKEN_LEN => {
            restrict(path)?;
            return Ok(text.trim().to_string());
        }
        Ok(_) => std::fs::remove_file(path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token = generate();
    let mut file = create_private(path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok(token)
}

/// 244 random bits (two v4 UUIDs from the OS generator) as 64 hex digits.
fn generate() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// An existing token file readable by others is narrowed to the owner.
#[cfg(unix)]
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "admin token file was readable by others; narrowing it to the owner");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> std::io::Result<()> {
    Ok(())
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
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(load_or_create(&path).unwrap(), first);
            assert_eq!(mode(&path), 0o600, "narrowed again");
        }
        std::fs::write(&path, "").unwrap();
        let fresh = load_or_create(&path).unwrap();
        assert_eq!(fresh.len(), 64, "an empty file gets a new token");
        assert_ne!(fresh, first);
    }
}
