//! Reading and checking the configuration file and the mapping files it names.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use sha2::Digest;

use super::error::{key_line, line_of};
use super::mapping::Mapping;
use super::{bounds, hosts};
use super::{env, Config, ConfigError};

/// A pairing with its mapping file read and checked.
#[derive(Debug)]
pub struct LoadedPairing {
    pub name: String,
    pub a: String,
    pub b: String,
    pub mapping: Mapping,
    pub mapping_path: PathBuf,
    /// The mapping file's text, for error positions in later checks.
    pub mapping_source: String,
}

impl LoadedPairing {
    /// The side `connection` is on in this pairing, if any.
    pub fn side_of(&self, connection: &str) -> Option<crate::store::Side> {
        [crate::store::Side::A, crate::store::Side::B]
            .into_iter()
            .find(|side| self.connection(*side) == connection)
    }

    /// The connection on `side`.
    pub fn connection(&self, side: crate::store::Side) -> &str {
        match side {
            crate::store::Side::A => &self.a,
            crate::store::Side::B => &self.b,
        }
    }
}

/// A configuration that passed every check that needs no network.
#[derive(Debug)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub config: Config,
    pub pairings: Vec<LoadedPairing>,
    /// `daemon.store_path` resolved against the config file's folder.
    pub store_path: PathBuf,
    /// SHA-256 of the config file as written (before `${VAR}` substitution,
    /// so secrets taken from the environment do not enter it) and of each
    /// mapping file: what a reload's audit entry names.
    pub digest: String,
    /// The parsed file after substitution, to tell which connections a
    /// reload changed (`Debug` never shows it: it holds secrets).
    pub(crate) tables: RawTables,
}

/// The configuration as a TOML table; `Debug` shows nothing of it.
#[derive(Clone, Default)]
pub(crate) struct RawTables(pub(crate) toml::Table);

impl std::fmt::Debug for RawTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawTables(<redacted>)")
    }
}

/// Largest configuration or mapping file read (1 MiB); a larger one is
/// refused before it is parsed, so a hostile file cannot exhaust memory.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Reads `path` as text, refusing files over [`MAX_CONFIG_BYTES`].
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "the file is larger than {} KiB; is this the right file?",
            MAX_CONFIG_BYTES / 1024
        ));
    }
    Ok(text)
}

/// Parses TOML text into `T`, naming the field and line of the first error.
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.span().map(|s| line_of(text, s.start));
        let field = if path == "." {
            "(top level)".to_string()
        } else {
            path
        };
        ConfigError::new(file, line, field, inner.message().trim().to_string())
    })
}

/// A non-loopback admin listener must not serve an API whose token only
/// the local machine knows: it needs `daemon.admin_token` set explicitly.
fn check_admin_listener(path: &Path, text: &str, config: &Config) -> Result<(), ConfigError> {
    let daemon = &config.daemon;
    if daemon.admin_listen.ip().is_loopback() || daemon.admin_token.is_some() {
        return Ok(());
    }
    Err(ConfigError::new(
        path,
        key_line(text, "daemon", "admin_listen"),
        "daemon.admin_listen",
        format!(
            "{} is not a loopback address; set daemon.admin_token (for example \
             admin_token = \"${{PSA_BRIDGE_ADMIN_TOKEN}}\") or bind admin_listen to 127.0.0.1",
            daemon.admin_listen
        ),
    ))
}

/// Loads the config file at `path`, substituting environment variables via `lookup`.
pub fn load(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let raw = read_bounded(path)
        .map_err(|e| ConfigError::new(path, None, "(file)", format!("cannot read: {e}")))?;
    let text = env::substitute(path, &raw, lookup)?;
    let mut config: Config = parse_toml(path, &text)?;
    let tables = RawTables(parse_toml(path, &text)?);
    let mut digest = sha2::Sha256::new();
    digest.update(raw.as_bytes());
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let at = |offset: usize| Some(line_of(&text, offset));
    check_admin_listener(path, &text, &config)?;
    bounds::check_daemon(path, &text, &config.daemon)?;
    for host in &mut config.daemon.admin_hosts {
        *host = hosts::normalise_host(host).map_err(|m| {
            ConfigError::new(
                path,
                key_line(&text, "daemon", "admin_hosts"),
                "daemon.admin_hosts",
                m,
            )
        })?;
    }

    let retry_for = config.daemon.retry_for_hours;
    if !(1..=crate::retry::MAX_RETRY_FOR_HOURS).contains(&retry_for) {
        return Err(ConfigError::new(
            path,
            key_line(&text, "daemon", "retry_for_hours"),
            "daemon.retry_for_hours",
            format!(
                "must be between 1 and {} (a year), got {retry_for}",
                crate::retry::MAX_RETRY_FOR_HOURS
            ),
        ));
    }
    for (name, conn) in &config.connections {
        let vendor = *conn.vendor.get_ref();
        let field = format!("connections.{name}");
        if conn.settings_tables() != [vendor] {
            return Err(ConfigError::new(
                path,
                at(conn.vendor.span().start),
                field,
                format!(
                    "vendor = \"{0}\" needs a [connections.{name}.{0}] table and no other vendor's table",
                    vendor.as_str()
                ),
            ));
        }
        bounds::check_connection(path, &text, name, conn)?;
    }
    let mut pairings = Vec::new();
    let known: Vec<&str> = config.connections.keys().map(String::as_str).collect();
    for (index, p) in config.pairings.iter().enumerate() {
        let field = format!("pairings[{index}]");
        let name = p.name.get_ref().clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::new(
                path,
                at(p.name.span().start),
                format!("{field}.name"),
                "use letters, digits, '-' and '_' only",
            ));
        }
        if pairings.iter().any(|q: &LoadedPairing| q.name == name) {
            return Err(ConfigError::new(
                path,
                at(p.name.span().start),
                format!("{field}.name"),
                format!("duplicate pairing name {name:?}"),
            ));
        }
        for (side, conn) in [("a", &p.a), ("b", &p.b)] {
            if !config.connections.contains_key(conn.get_ref()) {
                return Err(ConfigError::new(
                    path,
                    at(conn.span().start),
                    format!("{field}.{side}"),
                    format!(
                        "unknown connection {:?}; configured: {}",
                        conn.get_ref(),
                        known.join(", ")
                    ),
                ));
            }
        }
        if p.a.get_ref() == p.b.get_ref() {
            return Err(ConfigError::new(
                path,
                at(p.b.span().start),
                format!("{field}.b"),
                "a pairing needs two different connections",
            ));
        }
        let mapping_path = base.join(p.mapping.get_ref());
        let mapping_source = read_bounded(&mapping_path).map_err(|e| {
            ConfigError::new(
                path,
                at(p.mapping.span().start),
                format!("{field}.mapping"),
                format!("cannot read {}: {e}", mapping_path.display()),
            )
        })?;
        let mut mapping: Mapping = parse_toml(&mapping_path, &mapping_source)?;
        mapping.validate(&mapping_path, &mapping_source)?;
        let vendor = |c: &str| config.connections.get(c).map(|c| *c.vendor.get_ref());
        if let (Some(a), Some(b)) = (vendor(p.a.get_ref()), vendor(p.b.get_ref())) {
            super::scope::resolve(&mut mapping, a, b, &mapping_path, &mapping_source)?;
        }
        digest.update(mapping_source.as_bytes());
        pairings.push(LoadedPairing {
            name,
            a: p.a.get_ref().clone(),
            b: p.b.get_ref().clone(),
            mapping,
            mapping_path,
            mapping_source,
        });
    }
    let store_path = base.join(&config.daemon.store_path);
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        config,
        pairings,
        store_path,
        digest: format!("{:x}", digest.finalize()),
        tables,
    })
}
