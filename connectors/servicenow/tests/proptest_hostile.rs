//! Hostile input, bounded: arbitrary bytes and arbitrary JSON shaped like
//! the Table API's answers and the bridge's notifications never make the
//! connector panic; a notification is accepted only when signed with the
//! secret and stamped within five minutes of now, whatever the timestamp
//! header holds. 256 cases per property from a fixed seed (every run, CI
//! included, checks the same inputs); `scripts/fuzz.sh` explores further.

use proptest::prelude::*;
use psa_connector::hostile::{self, bytes, bytes_of, Vendor};
use psa_connector::{ChangeHint, WebhookError, WebhookRequest};
use psa_servicenow::fuzzing::{self, connector, NOW, WEBHOOK_SECRET};
use psa_servicenow::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde_json::json;

/// JSON whose object keys are mostly the Table API's (integers stay within
/// `i64`).
const SERVICENOW: Vendor = Vendor {
    // The Table API's field names, plus a stranger.
    keys: &[
        "result",
        "sys_id",
        "number",
        "short_description",
        "description",
        "state",
        "priority",
        "impact",
        "urgency",
        "assignment_group",
        "caller_id",
        "company",
        "correlation_id",
        "close_code",
        "close_notes",
        "hold_reason",
        "sys_updated_on",
        "sys_mod_count",
        "value",
        "display_value",
        "element",
        "sys_created_on",
        "sys_created_by",
        "error",
        "message",
        "detail",
        "status",
        "table",
        "operation",
        "x",
    ],
    // The Table API's date format at its extremes, a sys_id, table and journal
    // names, markers.
    strings: &[
        "2026-11-19 11:00:00",
        "+262143-12-31 23:59:59",
        "-262143-01-01 00:00:00",
        "46d44a5fa9fe198100b0d7d8e6e4e2a1",
        "incident",
        "comments",
        "work_notes",
        "psa-bridge:acme:1",
        "hello\n[psa-bridge:acme:1:n:2]",
    ],
    unsigned: false,
};

fn notice(timestamp: &str, signature: &str, body: &[u8]) -> WebhookRequest {
    hostile::request(
        &[
            (TIMESTAMP_HEADER, Some(timestamp)),
            (SIGNATURE_HEADER, Some(signature)),
        ],
        body,
    )
}

fn verify(request: &WebhookRequest) -> Result<Vec<ChangeHint>, WebhookError> {
    hostile::verify(connector(), request)
}

proptest! {
    #![proptest_config(hostile::config(0x5e41_ce00))]

    #[test]
    fn arbitrary_bytes_never_panic(body in bytes(0..512),
                                   status in 400u16..600) {
        let _ = fuzzing::ticket(&body);
        let _ = fuzzing::journal(&body);
        let _ = fuzzing::poll(&body);
        let _ = fuzzing::error(status, &body).to_string();
    }

    #[test]
    fn vendor_shaped_answers_never_panic(record in SERVICENOW.json(),
                                         rows in prop::collection::vec(SERVICENOW.json(), 0..4)) {
        if let Ok(ticket) = fuzzing::ticket(&bytes_of(&json!({"result": record}))) {
            prop_assert!(!ticket.id.is_empty());
        }
        let page = bytes_of(&json!({"result": rows}));
        let _ = fuzzing::journal(&page);
        let _ = fuzzing::poll(&page);
        let _ = fuzzing::error(403, &bytes_of(&json!({"error": record})));
    }

    /// Signed with the secret, any timestamp: accepted only within 300 s.
    #[test]
    fn only_fresh_signed_notifications_are_accepted(offset in prop_oneof![
                                                        -400i64..400,
                                                        any::<i64>(),
                                                        Just(i64::MIN),
                                                        Just(i64::MAX)],
                                                    absolute in any::<bool>(),
                                                    body in SERVICENOW.json()) {
        let sent = if absolute { offset } else { NOW.wrapping_add(offset) };
        let stamp = sent.to_string();
        let body = bytes_of(&body);
        let result = verify(&notice(&stamp, &sign(WEBHOOK_SECRET, &stamp, &body), &body));
        if NOW.abs_diff(sent) > 300 {
            prop_assert!(result.is_err(), "accepted a notification {}s off", NOW.abs_diff(sent));
        }
    }

    #[test]
    fn unsigned_or_forged_notifications_are_refused(body in bytes(0..256),
                                                    stamp in prop_oneof![Just(NOW.to_string()), "[ -~]{0,24}"],
                                                    signature in "[ -~]{0,60}") {
        prop_assert!(verify(&notice(&stamp, &signature, &body)).is_err());
        let forged = format!("sha256={signature}");
        prop_assert!(verify(&notice(&stamp, &forged, &body)).is_err());
        let wrong = sign("not-the-secret", &stamp, &body);
        prop_assert!(verify(&notice(&stamp, &wrong, &body)).is_err());
    }
}
