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
//! Callers that change one record (update, delete, a child of a parent)
//! turn a rejected "No matching records found" into
//! [`ConnectorError::NotFound`] with [`missing_on_write`]. Reads never do:
//! Autotask answers a read of a missing record with `{"item": null}`, so that
//! message on a read is a permission problem and stays permanent.

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

/// Autotask's refusals, lower-case: validation, missing-record and
/// permission messages (the simulator's copy them). In a pattern `*` stands
/// for any text (the field, value or limit the vendor names), so a pattern
/// matches the vendor's sentence rather than a stray word: "invalid" or
/// "must" in a server fault's text ("Invalid object name…", "Operation is
/// not valid due to the current state of the object") does not make the
/// fault permanent.
pub(crate) const REFUSALS: &[&str] = &[
    // A missing record, or no permission for it.
    "no matching records found",
    "does not have the adequate permissions",
    "may not have the required permissions",
    "zone information could not be determined",
    // Validation of the fields sent.
    "missing required field",
    "value does not exist for the required field",
    "is not a valid picklist value",
    "is not a valid url",
    "is missing or not a valid",
    "exceeds the maximum length",
    "the field * cannot be null",
    "the field * is required",
    "the id of the entity to update is required",
    "does not match the parent id",
    "is already part of this webhook",
    "must be between * and *",
    "must be an array",
    "must be strings",
    "must be objects",
    "must be a json object",
    "you must assign both",
    "a ticket must have either",
    "invalid *: no * with id * exists",
    // JSON the API could not read into its model (Json.NET's wording).
    "could not convert * path '",
    "error converting value * path '",
    "unexpected value * for '",
    // Queries.
    "unable to find * field",
    "invalid filter",
    "the filter must be",
    "filter group needs",
    "filter condition needs",
    "operator needs an array value",
    "needs a scalar value",
    "must contain at least one filter",
    "invalid 'udf' flag",
    "paging token is not valid",
    "the query must be",
];

const NO_RECORD: &str = "no matching records found";

/// Whether `text` contains the parts of `pattern` (split at `*`) in order.
fn matches_pattern(text: &str, pattern: &str) -> bool {
    let mut rest = text;
    for part in pattern.split('*') {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether a vendor message at HTTP 500 refuses the request for good.
pub(crate) fn is_refusal(message: &str) -> bool {
    let lower = message.to_lowercase();
    if TRANSIENT.iter().any(|p| lower.contains(p)) {
        return false;
    }
    REFUSALS.iter().any(|p| matches_pattern(&lower, p))
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

/// Whether the vendor refused a WRITE because the record addressed does not
/// exist (Autotask's "No matching records found", or a plain 404). Not for
/// reads: see [`crate::client::AutotaskConnector::get_item`].
pub(crate) fn missing_on_write(error: &ConnectorError) -> bool {
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

    /// Server faults whose text happens to hold a word the old phrase list
    /// matched on its own ("invalid", "must ", "already", "cannot be",
    /// "unable to find", "is not valid"): they stay retryable.
    #[test]
    fn faults_with_refusal_words_stay_retryable() {
        for fault in [
            "Invalid object name 'dbo.Ticket'.",
            "Operation is not valid due to the current state of the object.",
            "The connection is already closed.",
            "The database server cannot be reached.",
            "The application pool must restart.",
            "Unable to find the requested .Net Framework Data Provider. It may not be installed.",
            "Invalid column name 'lastActivityDate'.",
            "The process needs more memory.",
            "Login failed: the session does not exist.",
        ] {
            let e = classify(http500(fault));
            assert!(
                matches!(e, ConnectorError::Http { status: 500, .. }),
                "{fault}: {e:?}"
            );
            assert!(e.is_retryable(), "{fault}");
        }
    }

    /// Every refusal the simulator sends at HTTP 500 is read as permanent.
    #[test]
    fn simulator_refusals_are_permanent() {
        for refusal in [
            "Missing required field(s): description.",
            "The field title is required.",
            "The field status cannot be null.",
            "The id of the entity to update is required.",
            "Invalid queueID: no queue with id 12 exists.",
            "Error converting value 1.5 to type 'System.Int32'. Path 'status'.",
            "Could not convert \"x\" to a boolean. Path 'IsActive'.",
            "Unexpected value [1] for 'status'.",
            "Unable to find nope in the entity's fields.",
            "Unable to find the user-defined field 'MSP Ticket'.",
            "Invalid filter operator 'like'.",
            "A query must contain at least one filter condition.",
            "MaxRecords must be between 1 and 500.",
            "SecretKey must be between 1 and 64 characters.",
            "The webhookID 3 in the body does not match the parent id 4 in the URL.",
            "Field 12 is already part of this webhook.",
            "FieldID is missing or not a valid field of this webhook's entity.",
            "WebhookUrl is not a valid URL.",
            "A ticket must have either a queueID or an assignedResourceID and assignedResourceRoleID.",
            "The paging token is not valid.",
        ] {
            assert!(is_refusal(refusal), "{refusal}");
        }
    }

    #[test]
    fn missing_records() {
        let e = classify(http500(
            "No matching records found. The logged in Resource may not have the required permissions to update the data.",
        ));
        assert!(missing_on_write(&e));
        assert!(!missing_on_write(&classify(http500(
            "Missing Required Field: title"
        ))));
        assert!(!missing_on_write(&http500("An error has occurred.")));
    }
}
