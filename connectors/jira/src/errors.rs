//! Jira's error envelope `{"errorMessages":[…],"errors":{field: message}}`
//! read into one clear message.

use psa_connector::http::snippet;
use serde_json::Value;

/// The vendor's own words for a failed call.
pub fn error_message(status: u16, body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return if body.is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            snippet(body)
        };
    };
    let mut parts: Vec<String> = v
        .get("errorMessages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    if let Some(errors) = v.get("errors").and_then(Value::as_object) {
        for (field, message) in errors {
            let text = message
                .as_str()
                .map(str::to_string)
                .unwrap_or(message.to_string());
            parts.push(format!("{field}: {text}"));
        }
    }
    if let Some(m) = v.get("message").and_then(Value::as_str) {
        parts.push(m.to_string());
    }
    if parts.is_empty() {
        snippet(body)
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_envelope() {
        let body = br#"{"errorMessages":["Issue does not exist"],"errors":{"resolution":"Resolution is required."}}"#;
        assert_eq!(
            error_message(400, body),
            "Issue does not exist; resolution: Resolution is required."
        );
        assert_eq!(
            error_message(502, b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_message(503, b""), "HTTP 503 with an empty body");
    }
}
