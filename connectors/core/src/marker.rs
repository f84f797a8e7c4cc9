//! The bridge's marker in comment text.
//!
//! Comments have no free field for an idempotency key on every vendor, so the
//! bridge appends one line `[psa-bridge:<marker>]` to the text it writes. The
//! marker survives vendors that turn newlines into spaces (ConnectWise).

const OPEN: &str = "[psa-bridge:";

/// Appends the marker line to a comment body.
pub fn embed(body: &str, marker: &str) -> String {
    format!("{}\n{OPEN}{marker}]", body.trim_end())
}

/// Splits a stored text into (body without marker, marker).
pub fn extract(text: &str) -> (String, Option<String>) {
    let Some(start) = text.rfind(OPEN) else {
        return (text.to_string(), None);
    };
    let rest = &text[start + OPEN.len()..];
    let Some(end) = rest.find(']') else {
        return (text.to_string(), None);
    };
    let marker = &rest[..end];
    if marker.is_empty()
        || !marker
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
    {
        return (text.to_string(), None);
    }
    let body = text[..start].trim_end().to_string();
    (body, Some(marker.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_newline_loss() {
        let text = embed("hello\nworld", "op-42");
        assert_eq!(
            extract(&text),
            ("hello\nworld".into(), Some("op-42".into()))
        );
        let flattened = text.replace('\n', " ");
        assert_eq!(extract(&flattened).1.as_deref(), Some("op-42"));
    }

    #[test]
    fn ignores_text_without_a_valid_marker() {
        assert_eq!(extract("plain").1, None);
        assert_eq!(extract("[psa-bridge:] x").1, None);
        assert_eq!(extract("[psa-bridge:a b]").1, None);
        assert_eq!(extract("[psa-bridge:unterminated").1, None);
    }
}
