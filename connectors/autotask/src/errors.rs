//! Telling Autotask's refusals from its faults.
//!
//! Autotask answers a request it refuses for its content (a validation
//! failure, "No matching records found" for a record that does not exist, some
//! permission errors) with HTTP 500 and an `{"errors":[…]}` body: the same
//! status as a genuine server fault. Retrying a refusal only spends the
//! tenant's shared hourly budget, so the vendor's message decides:
//!
//! - a message naming a passing condition (thread threshold, timeout,
//!   "try again", an unexplained "An error has occurred", no message at all)
//!   stays a retryable HTTP 500;
//! - a message that refuses the request ([`REFUSALS`]) becomes the permanent
//!   [`ConnectorError::Rejected`];
//! - anything else stays retryable: an unknown message is treated as a fault,
//!   so a real outage is never dead-lettered by a guess.
//!
//! Callers that read or change one record turn a rejected "No matching
//! records found" into [`ConnectorError::NotFound`] with [`is_missing_record`].

use psa_connector::ConnectorError;

/// Phrases of passing trouble; checked first, so they win over [`REFUSALS`].
const TRANSIENT: &[&str] = &[
    "thread threshold",
    "timeout",
    "timed out",
    "try again",
    "temporarily",
    "unavailable",
    "deadlock",
    "an error has occurred",
    "unexpected error",
    "internal server error",
    "without a message",
];

/// Phrases of a refusal, lower-case: Autotask's validation, missing-record and
/// permission messages (and the simulator's, which copy them).
pub(crate) const REFUSALS: &[&str] = &[
    "no matching records found",
    "missing required field",
    "is required",
    "invalid",
    "not a valid",
    "is not valid",
    "does not exist",
    "cannot be null",
    "cannot be",
    "exceeds the maximum",
    "could not convert",
    "error converting",
    "unable to find",
    "unexpected value",
    "must ",
    "needs ",
    "not allowed",
    "already",
    "does not match",
    "could not be determined",
    "adequate permissions",
    "permission to",
];

const NO_RECORD: &str = "no matching records found";

/// Whether a vendor message at HTTP 500 refuses the request for good.
pub(crate) fn is_refusal(message: &str) -> bool {
    let lower = message.to_lowercase();
    if TRANSIENT.iter().any(|p| lower.contains(p)) {
        return false;
    }
    REFUSALS.iter().any(|p| lower.contains(p))
}

/// Reclassifies an HTTP 500 whose message is a refusal as permanent.
pub(crate) fn classify(error: ConnectorError) -> ConnectorError {
    match error {
        ConnectorError::Http {
            status: 500,
            message,
            retry_after,
        } => {
            if is_refusal(&message) {
                ConnectorError::Rejected {
                    status: 500,
                    message,
                }
            } else {
                ConnectorError::Http {
                    status: 500,
                    message,
                    retry_after,
                }
            }
        }
        other => other,
    }
}

/// Whether the vendor said the record addressed does not exist (Autotask's
/// "No matching records found", or a plain 404).
pub(crate) fn is_missing_record(error: &ConnectorError) -> bool {
    match error {
        ConnectorError::Rejected { message, .. } => message.to_lowercase().contains(NO_RECORD),
        ConnectorError::Http { status: 404, .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psa_connector::RetryAction;

    fn http500(message: &str) -> ConnectorError {
        ConnectorError::Http {
            status: 500,
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn refusals_are_permanent_faults_are_retried() {
        for refusal in [
            "No matching records found. The logged in Resource may not have the required permissions to update the data.",
            "Missing Required Field: title",
            "Value 77 is not a valid picklist value for field status.",
            "Value does not exist for the required field status.",
            "The value for field title exceeds the maximum length of 255 characters.",
            "The logged in Resource does not have the adequate permissions to update this entity.",
            "Could not convert string to integer: x. Path 'status'.",
            "Zone information could not be determined for this user.",
        ] {
            let e = classify(http500(refusal));
            assert!(matches!(e, ConnectorError::Rejected { status: 500, .. }), "{refusal}");
            assert_eq!(e.retry_action(), RetryAction::DontRetry, "{refusal}");
        }
        for fault in [
            "The Autotask API thread threshold of 3 threads has been exceeded",
            "An error has occurred.",
            "HTTP 500 without a message",
            "<html><body>Internal Server Error</body></html>",
            "Something nobody has seen before",
            "Execution Timeout Expired; invalid state",
        ] {
            let e = classify(http500(fault));
            assert!(e.is_retryable(), "{fault}");
        }
        // Other statuses keep their classification.
        let e = classify(ConnectorError::Http {
            status: 503,
            message: "Missing Required Field: x".into(),
            retry_after: None,
        });
        assert!(e.is_retryable());
    }

    #[test]
    fn missing_records() {
        let e = classify(http500(
            "No matching records found. The logged in Resource may not have the required permissions to update the data.",
        ));
        assert!(is_missing_record(&e));
        assert!(!is_missing_record(&classify(http500(
            "Missing Required Field: title"
        ))));
        assert!(!is_missing_record(&http500("An error has occurred.")));
    }
}
