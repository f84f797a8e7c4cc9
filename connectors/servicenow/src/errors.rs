//! Reading the platform's error body (`{"error":{"message","detail"},"status":"failure"}`)
//! and classifying failures: 429/500/502/503 retry, 401 is permanent (after
//! the one OAuth refresh in `client.rs`), 403 (ACL, data policy) and 400 are
//! permanent refusals carrying the vendor's message, 404 is NotFound.

use psa_connector::ConnectorError;
use serde_json::Value;

/// The vendor's own text for an error answer.
pub(crate) fn error_message(status: u16, body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match error {
        Some(Value::Object(_)) => {
            let message = text(error.and_then(|e| e.get("message")));
            let detail = text(error.and_then(|e| e.get("detail")));
            match (message, detail) {
                (Some(m), Some(d)) if m != d => format!("{m}: {d}"),
                (Some(m), _) => m,
                (None, Some(d)) => d,
                (None, None) => format!("HTTP {status}"),
            }
        }
        Some(Value::String(s)) => s.clone(),
        _ => format!("HTTP {status}: {}", psa_connector::http::snippet(body)),
    }
}

/// Turns HTTP errors into the kinds the engine acts on.
pub(crate) fn classify(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Http {
            status: 404,
            message,
            ..
        } => ConnectorError::NotFound(format!("record ({message})")),
        ConnectorError::Http {
            status: status @ (400 | 403 | 405 | 409 | 422),
            message,
            ..
        } => ConnectorError::Rejected { status, message },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_platform_error_body() {
        let body = br#"{"error":{"message":"Operation Failed","detail":"Data Policy Exception: Resolution code"},"status":"failure"}"#;
        assert_eq!(
            error_message(403, body),
            "Operation Failed: Data Policy Exception: Resolution code"
        );
        assert_eq!(error_message(500, b"<html>"), "HTTP 500: <html>");
        let e = classify(ConnectorError::Http {
            status: 403,
            message: "x".into(),
            retry_after: None,
        });
        assert!(matches!(e, ConnectorError::Rejected { status: 403, .. }));
        assert!(!e.is_retryable());
        for status in [429, 500, 502, 503] {
            let e = classify(ConnectorError::Http {
                status,
                message: "x".into(),
                retry_after: None,
            });
            assert!(e.is_retryable(), "{status}");
        }
    }
}
