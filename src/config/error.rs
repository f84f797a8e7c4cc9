//! Configuration errors that name the file, line and field.

use std::path::{Path, PathBuf};

/// A configuration or mapping problem; the daemon refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {field}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(
        file: &Path,
        line: Option<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// 1-based line where `key` is set inside table `table` (`"daemon"`,
/// `"connections.msp"`; `""` for the top level), for error positions of
/// values whose span serde does not keep. Falls back to the table's header
/// line when the key is not written out (a default), and to `None` when the
/// table is not found either. Quotes around header parts are ignored.
pub fn key_line(text: &str, table: &str, key: &str) -> Option<usize> {
    let wanted = table.replace('"', "");
    let mut current = String::new();
    let mut header = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            current = trimmed
                .trim_matches(|c| c == '[' || c == ']')
                .replace(['"', ' '], "");
            if current == wanted {
                header.get_or_insert(index + 1);
            }
            continue;
        }
        if current != wanted {
            continue;
        }
        let Some(rest) = trimmed.strip_prefix(key) else {
            continue;
        };
        if rest.trim_start().starts_with('=') {
            return Some(index + 1);
        }
    }
    header
}

#[cfg(test)]
mod tests {
    use super::key_line;

    #[test]
    fn key_line_finds_the_key_in_its_own_table() {
        let text = "[daemon]\ntick_ms = 5\n\n[connections.a]\ntimeout_secs = 1\n\
                    [connections.a.autotask]\ntimeout_secs = 9\n[connections.\"b\"]\n\
                    timeout_secs_x = 2\ntimeout_secs = 3\n";
        assert_eq!(key_line(text, "daemon", "tick_ms"), Some(2));
        assert_eq!(key_line(text, "connections.a", "timeout_secs"), Some(5));
        assert_eq!(key_line(text, "connections.b", "timeout_secs"), Some(10));
        assert_eq!(key_line(text, "connections.a", "poll"), Some(4), "header");
        assert_eq!(key_line(text, "connections.c", "poll"), None);
    }
}
