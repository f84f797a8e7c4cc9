//! `${ENV_VAR}` substitution in configuration text, line by line so error
//! positions stay true. Comment lines are left alone; `$${` escapes a literal `${`.

use std::path::Path;

use super::ConfigError;

/// Replaces `${NAME}` with the variable's value, using `lookup`.
pub fn substitute(
    file: &Path,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut table = String::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            table = trimmed
                .trim_end()
                .trim_matches(|c| c == '[' || c == ']')
                .to_string();
        }
        if trimmed.starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(pos) = rest.find("${") {
            if rest[..pos].ends_with('$') {
                out.push_str(&rest[..pos - 1]);
                out.push_str("${");
                rest = &rest[pos + 2..];
                continue;
            }
            out.push_str(&rest[..pos]);
            let field = field_name(&table, line);
            let after = &rest[pos + 2..];
            let Some(end) = after.find('}') else {
                return Err(ConfigError::new(
                    file,
                    Some(index + 1),
                    field,
                    "unterminated ${...}",
                ));
            };
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ConfigError::new(
                    file,
                    Some(index + 1),
                    field,
                    format!("invalid environment variable name {name:?}"),
                ));
            }
            let value = lookup(name).ok_or_else(|| {
                ConfigError::new(
                    file,
                    Some(index + 1),
                    field.clone(),
                    format!("environment variable {name} is not set"),
                )
            })?;
            if value.contains('\n') {
                return Err(ConfigError::new(
                    file,
                    Some(index + 1),
                    field,
                    format!("environment variable {name} contains a newline"),
                ));
            }
            out.push_str(&escape_toml_basic(&value));
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

fn field_name(table: &str, line: &str) -> String {
    let key = line.split('=').next().unwrap_or("").trim();
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// Values land inside TOML basic strings: escape what would end or break them.
fn escape_toml_basic(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SECRET" => Some("s3\"cr\\et".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_and_escapes() {
        let out = substitute(Path::new("c.toml"), "[x]\nsecret = \"${SECRET}\"\n", &vars).unwrap();
        assert_eq!(out, "[x]\nsecret = \"s3\\\"cr\\\\et\"\n");
        let parsed: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(parsed["x"]["secret"].as_str(), Some("s3\"cr\\et"));
    }

    #[test]
    fn missing_variable_names_line_and_field() {
        let err = substitute(
            Path::new("c.toml"),
            "[connections.at.autotask]\n\nsecret = \"${NOPE}\"\n",
            &vars,
        )
        .unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.field, "connections.at.autotask.secret");
        assert!(err.to_string().contains("NOPE is not set"), "{err}");
    }

    #[test]
    fn comments_and_escapes_are_left_alone() {
        let out = substitute(
            Path::new("c.toml"),
            "# ${NOPE}\na = \"$${LITERAL}\"\n",
            &vars,
        )
        .unwrap();
        assert_eq!(out, "# ${NOPE}\na = \"${LITERAL}\"\n");
    }
}
