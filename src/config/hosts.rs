//! `daemon.admin_hosts`: the extra names the admin API answers to, brought
//! to the form the `Host` check compares (`src/admin/auth.rs`): lower case,
//! no trailing dot, no port, IPv6 without brackets. An entry that is not a
//! host name or IP address (a URL, a path, spaces, a wildcard) is refused
//! rather than silently never matching.

use std::net::IpAddr;

/// The normalised form of one `admin_hosts` entry, or why it is refused.
pub fn normalise_host(entry: &str) -> Result<String, String> {
    let raw = entry.trim();
    let without_port = if let Some(rest) = raw.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{entry:?}: unclosed '[' in an IPv6 address"))?;
        check_port(entry, after.strip_prefix(':'), after.is_empty())?;
        inner.to_string()
    } else if raw.matches(':').count() == 1 {
        let (name, port) = raw.split_once(':').unwrap_or((raw, ""));
        check_port(entry, Some(port), false)?;
        name.to_string()
    } else {
        raw.to_string()
    };
    let name = without_port.trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<IpAddr>().is_ok() {
        return Ok(name);
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!(
            "{entry:?} is not a host name or IP address (write e.g. \"admin.example.com\" or \
             \"10.0.0.5\", without scheme, path or wildcard)"
        ));
    }
    Ok(name)
}

fn check_port(entry: &str, port: Option<&str>, none_ok: bool) -> Result<(), String> {
    match port {
        None if none_ok => Ok(()),
        Some(p) if p.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("{entry:?}: the part after ':' is not a port")),
    }
}

#[cfg(test)]
mod tests {
    use super::normalise_host;

    #[test]
    fn entries_are_normalised() {
        for (entry, want) in [
            ("Admin.Example.COM", "admin.example.com"),
            ("admin.example.com.", "admin.example.com"),
            (" admin.example.com:9180 ", "admin.example.com"),
            ("10.0.0.5:9180", "10.0.0.5"),
            ("[::1]:9180", "::1"),
            ("[FE80::1]", "fe80::1"),
            ("fe80::2", "fe80::2"),
            ("bridge", "bridge"),
        ] {
            assert_eq!(normalise_host(entry).as_deref(), Ok(want), "{entry}");
        }
    }

    #[test]
    fn invalid_entries_are_refused() {
        for entry in [
            "",
            "http://admin.example.com",
            "admin.example.com/path",
            "*.example.com",
            "admin example.com",
            "admin.example.com:port",
            "admin.example.com:99999",
            "[::1",
            "-bad.example.com",
            "a..b",
        ] {
            assert!(normalise_host(entry).is_err(), "{entry:?} accepted");
        }
    }
}
