//! Errors a connector reports, each saying whether a retry can help.

use std::time::Duration;

/// What the delivery worker should do after a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAction {
    /// Transient: try again, no sooner than `after` when the vendor said so.
    Retry { after: Option<Duration> },
    /// Permanent: retrying cannot help; dead-letter with the message.
    DontRetry,
}

/// A failed call to a vendor.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The vendor answered with an error status; `message` is the vendor's own text.
    #[error("HTTP {status}: {message}")]
    Http {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Connection refused, reset, DNS, TLS: the request may not have arrived.
    #[error("transport error: {0}")]
    Transport(String),
    #[error("request timed out")]
    Timeout,
    #[error("{0} not found")]
    NotFound(String),
    /// The vendor answered 2xx with a body we cannot read.
    #[error("unexpected response: {0}")]
    InvalidResponse(String),
    /// A label the tenant does not have (status, priority, board, ...).
    #[error("unknown {kind} {label:?}; valid values: {valid}")]
    UnknownValue {
        kind: &'static str,
        label: String,
        valid: String,
    },
    /// The connection's configuration cannot work (bad URL, missing setting).
    #[error("configuration: {0}")]
    Config(String),
    /// The vendor refused the request for what it contains (a validation
    /// failure, a record it cannot find, a permission), whatever status it
    /// answered with: Autotask, for one, uses HTTP 500 for these. Resending
    /// the same request cannot help, so this is permanent.
    #[error("refused by the vendor (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
}

impl ConnectorError {
    /// 408, 429, 5xx, transport errors and timeouts are retried; everything else is permanent.
    pub fn retry_action(&self) -> RetryAction {
        match self {
            ConnectorError::Http {
                status,
                retry_after,
                ..
            } if *status == 408 || *status == 429 || *status >= 500 => RetryAction::Retry {
                after: *retry_after,
            },
            ConnectorError::Transport(_) | ConnectorError::Timeout => {
                RetryAction::Retry { after: None }
            }
            _ => RetryAction::DontRetry,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.retry_action(), RetryAction::Retry { .. })
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            ConnectorError::Http { status, .. } => Some(*status),
            ConnectorError::NotFound(_) => Some(404),
            ConnectorError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Why an incoming webhook was refused. Each maps to one HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature: 401, nothing stored.
    #[error("signature rejected: {0}")]
    Unauthorized(String),
    /// Not the vendor's payload shape: 400.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// We could not check the signature right now (key endpoint down): 503 so the vendor retries.
    #[error("cannot verify now: {0}")]
    Unavailable(String),
}

impl WebhookError {
    pub fn status_code(&self) -> u16 {
        match self {
            WebhookError::Unauthorized(_) => 401,
            WebhookError::Malformed(_) => 400,
            WebhookError::Unavailable(_) => 503,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> ConnectorError {
        ConnectorError::Http {
            status,
            message: "x".into(),
            retry_after: None,
        }
    }

    #[test]
    fn classifies_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(http(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 409, 415] {
            assert!(!http(s).is_retryable(), "{s}");
        }
        assert!(ConnectorError::Timeout.is_retryable());
        assert!(!ConnectorError::NotFound("t".into()).is_retryable());
        let rejected = ConnectorError::Rejected {
            status: 500,
            message: "Missing Required Field: title".into(),
        };
        assert_eq!(rejected.retry_action(), RetryAction::DontRetry);
        assert_eq!(rejected.http_status(), Some(500));
    }
}
