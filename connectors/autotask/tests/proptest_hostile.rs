//! Hostile input, bounded: arbitrary bytes and arbitrary JSON shaped like
//! Autotask's answers and webhooks never make the connector panic, an
//! unsigned webhook is never accepted, and no count the zone sends lets the
//! paging walk read more than its hard cap. 256 cases per property from a
//! fixed seed, so every run (and CI) checks the same inputs; the fuzz
//! targets in `fuzz/` explore further (`scripts/fuzz.sh`).

use std::time::Duration;

use proptest::prelude::*;
use psa_autotask::{default_limits, fuzzing, AutotaskConnector, AutotaskSettings};
use psa_connector::hostile::{self, bytes, bytes_of, Vendor};
use psa_connector::WebhookRequest;
use serde_json::json;

const SECRET: &str = "proptest-webhook-secret";

/// JSON whose object keys are mostly Autotask's.
const AUTOTASK: Vendor = Vendor {
    // Field names Autotask uses, in both spellings, plus a stranger.
    keys: &[
        "id",
        "Id",
        "item",
        "items",
        "pageDetails",
        "nextPageUrl",
        "fields",
        "name",
        "picklistValues",
        "value",
        "label",
        "isActive",
        "isDefaultValue",
        "status",
        "priority",
        "queueID",
        "title",
        "ticketNumber",
        "lastTrackedModificationDateTime",
        "lastActivityDate",
        "createDate",
        "userDefinedFields",
        "description",
        "publish",
        "createDateTime",
        "creatorResourceID",
        "createdByContactID",
        "queryCount",
        "errors",
        "message",
        "firstName",
        "lastName",
        "Action",
        "EntityType",
        "Guid",
        "SequenceNumber",
        "EventTime",
        "Fields",
        "TicketID",
        "x",
    ],
    // Autotask's date formats at their extremes, markers, a picklist label, a
    // count past `i64::MAX`, webhook entity names.
    strings: &[
        "2026-11-25T10:00:00Z",
        "+262143-12-31T23:59:59",
        "-262143-01-01T00:00:00Z",
        "psa-bridge:acme:1",
        "hello\n[psa-bridge:acme:1:n:2]",
        "All Autotask Users",
        "9223372036854775808",
        "Ticket",
        "TicketNote",
    ],
    unsigned: true,
};

fn connector() -> AutotaskConnector {
    let mut settings = AutotaskSettings::new("user@example.invalid", "s", "c");
    settings.api_url = Some("https://autotask.example.invalid/".into());
    settings.webhook_secret = Some(SECRET.into());
    AutotaskConnector::new(settings, default_limits(), Duration::from_secs(1)).unwrap()
}

fn webhook(signature: Option<&str>, body: &[u8]) -> WebhookRequest {
    hostile::request(&[("x-hook-signature", signature)], body)
}

proptest! {
    #![proptest_config(hostile::config(0x00a7_0a5c))]

    #[test]
    fn arbitrary_bytes_never_panic(first in bytes(0..64),
                                   body in bytes(0..512),
                                   status in 400u16..600) {
        let _ = fuzzing::ticket(&first, &body);
        let _ = fuzzing::notes(&first, &body);
        let _ = fuzzing::poll(&body);
        let _ = fuzzing::count(&body, first.len() as u64);
        let _ = fuzzing::resource_name(&body);
        let _ = fuzzing::error(status, &body).to_string();
    }

    #[test]
    fn vendor_shaped_answers_never_panic(item in AUTOTASK.json(),
                                         fields in AUTOTASK.json(),
                                         page in prop::collection::vec(AUTOTASK.json(), 0..4)) {
        let fields = bytes_of(&json!({"fields": [fields]}));
        if let Ok(ticket) = fuzzing::ticket(&fields, &bytes_of(&json!({"item": item}))) {
            prop_assert!(!ticket.id.is_empty());
        }
        let page = bytes_of(&json!({"items": page, "pageDetails": {"nextPageUrl": null}}));
        let _ = fuzzing::notes(&fields, &page);
        let _ = fuzzing::poll(&page);
        let _ = fuzzing::resource_name(&bytes_of(&json!({"item": item})));
        let _ = fuzzing::error(500, &bytes_of(&item));
    }

    /// Whatever count the zone claims, the walk reads at most its hard cap
    /// (2,000 pages), so memory is bounded by pages actually received.
    #[test]
    fn no_count_lets_paging_run_past_the_hard_cap(count in any::<u64>(), page_len in any::<u64>()) {
        let cap = fuzzing::count(&bytes_of(&json!({"queryCount": count})), page_len).unwrap();
        prop_assert!(cap <= 2_000);
    }

    #[test]
    fn unsigned_or_forged_webhooks_are_refused(body in AUTOTASK.json(),
                                               raw in bytes(0..256),
                                               signature in "[ -~]{0,60}") {
        let c = connector();
        for body in [bytes_of(&body), raw] {
            let forged = format!("sha1={signature}");
            for header in [None, Some(signature.as_str()), Some(forged.as_str())] {
                let result = hostile::verify(&c, &webhook(header, &body));
                prop_assert!(result.is_err(), "accepted {header:?}");
            }
        }
    }

    #[test]
    fn signed_webhooks_of_any_shape_never_panic(body in AUTOTASK.json(),
                                                raw in bytes(0..256)) {
        let c = connector();
        for body in [bytes_of(&body), raw] {
            let signature = psa_autotask::hooks::sign(SECRET, &body);
            let result = hostile::verify(&c, &webhook(Some(&signature), &body));
            if let Ok(hints) = result {
                prop_assert!(hints.len() <= 1);
            }
        }
    }
}
