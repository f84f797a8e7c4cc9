//! Hostile input, bounded: arbitrary bytes and arbitrary JSON shaped like
//! Jira's answers and webhooks never make the connector panic; a webhook is
//! accepted only when `X-Hub-Signature` is the HMAC of the body under the
//! secret; no `total`, token or page shape lets a listing read more than
//! its page cap. 256 cases per property from a fixed seed (every run, CI
//! included, checks the same inputs); `scripts/fuzz.sh` explores further.

use proptest::prelude::*;
use psa_connector::hostile::{self, bytes, bytes_of, Vendor};
use psa_connector::{ChangeHint, WebhookError, WebhookRequest};
use psa_jira::fuzzing::{self, connector, WEBHOOK_SECRET};
use psa_jira::webhook::{sign, IDENTIFIER_HEADER, SIGNATURE_HEADER};
use serde_json::json;

/// JSON whose object keys are mostly Jira's (issue beans, ADF, comment and
/// search pages, webhook payloads).
const JIRA: Vendor = Vendor {
    // Jira's field, ADF, page and webhook names, plus a stranger.
    keys: &[
        "id",
        "key",
        "fields",
        "summary",
        "description",
        "status",
        "statusCategory",
        "priority",
        "updated",
        "created",
        "project",
        "issuetype",
        "resolution",
        "labels",
        "properties",
        "psa-bridge",
        "marker",
        "name",
        "value",
        "type",
        "content",
        "text",
        "doc",
        "comments",
        "total",
        "body",
        "jsdPublic",
        "author",
        "displayName",
        "issues",
        "nextPageToken",
        "isLast",
        "webhookEvent",
        "issue",
        "timestamp",
        "errorMessages",
        "errors",
        "message",
        "x",
    ],
    // Jira's date format at its extremes, ADF and event names, markers.
    strings: &[
        "2026-11-19T12:00:00.000+0100",
        "+262143-12-31T23:59:59.999+9999",
        "-262143-01-01T00:00:00.000-9999",
        "doc",
        "paragraph",
        "done",
        "jira:issue_updated",
        "psa-bridge:acme:1",
        "hello\n[psa-bridge:acme:1:n:2]",
    ],
    unsigned: true,
};

fn hook(signature: &str, identifier: Option<&str>, body: &[u8]) -> WebhookRequest {
    hostile::request(
        &[
            (SIGNATURE_HEADER, Some(signature)),
            (IDENTIFIER_HEADER, identifier),
        ],
        body,
    )
}

fn verify(request: &WebhookRequest) -> Result<Vec<ChangeHint>, WebhookError> {
    hostile::verify(connector(), request)
}

proptest! {
    #![proptest_config(hostile::config(0x0a1a_ce00))]

    #[test]
    fn arbitrary_bytes_never_panic(body in bytes(0..512),
                                   status in 400u16..600) {
        let _ = fuzzing::ticket(&body);
        let _ = fuzzing::comments(&body, true);
        let _ = fuzzing::comments(&body, false);
        let _ = fuzzing::poll(&body);
        let _ = fuzzing::error(status, &body);
    }

    #[test]
    fn vendor_shaped_answers_never_panic(bean in JIRA.json(),
                                         fields in JIRA.json(),
                                         rows in prop::collection::vec(JIRA.json(), 0..4),
                                         total in any::<u64>()) {
        let _ = fuzzing::ticket(&bytes_of(&bean));
        let mut issue = json!({"id": "10001", "fields": fields});
        if let Ok(ticket) = fuzzing::ticket(&bytes_of(&issue)) {
            prop_assert_eq!(ticket.id.as_str(), "10001");
        }
        issue["fields"] = json!({"status": bean, "updated": "2026-11-19T12:00:00.000+0000"});
        prop_assert!(fuzzing::ticket(&bytes_of(&issue)).is_ok());
        let page = bytes_of(&json!({"comments": rows, "total": total}));
        let _ = fuzzing::comments(&page, true);
        let _ = fuzzing::comments(&page, false);
        let _ = fuzzing::poll(&bytes_of(&json!({"issues": rows, "nextPageToken": "t"})));
        let _ = fuzzing::error(400, &bytes_of(&json!({"errorMessages": rows, "errors": bean})));
    }

    /// Signed with the secret, any JSON (or bytes): verification never
    /// panics, and a hint names the payload's issue.
    #[test]
    fn signed_webhooks_of_any_shape_never_panic(payload in JIRA.json(),
                                               raw in bytes(0..128),
                                               identifier in prop::option::of("[ -~]{0,40}")) {
        for body in [bytes_of(&payload), bytes_of(&json!({"issue": payload})), raw] {
            let request = hook(&sign(WEBHOOK_SECRET, &body), identifier.as_deref(), &body);
            if let Ok(hints) = verify(&request) {
                prop_assert!(hints.len() <= 1);
            }
        }
    }

    #[test]
    fn unsigned_or_forged_webhooks_are_refused(body in bytes(0..256),
                                               signature in "[ -~]{0,80}",
                                               hex in "[0-9a-f]{64}") {
        prop_assert!(verify(&hook(&signature, None, &body)).is_err());
        let forged = format!("sha256={hex}");
        prop_assert!(forged == sign(WEBHOOK_SECRET, &body) || verify(&hook(&forged, None, &body)).is_err());
        prop_assert!(verify(&hook(&sign("not-the-secret", &body), None, &body)).is_err());
        let good = sign(WEBHOOK_SECRET, &body);
        let mut other = body.clone();
        other.push(b' ');
        prop_assert!(verify(&hook(&good, None, &other)).is_err());
    }

    /// Whatever `total` the comment pages claim and whatever tokens the
    /// search pages hand out (repeated forever), a listing reads at most
    /// its page cap.
    #[test]
    fn no_total_or_token_lets_paging_run_past_the_hard_cap(
        total in any::<u64>(),
        lens in prop::collection::vec(0usize..3, 1..4),
        tokens in prop::collection::vec(prop::option::of("[a-c]{0,2}"), 1..4),
        last in prop::collection::vec(prop::option::of(any::<bool>()), 1..4),
    ) {
        let comment_pages: Vec<Vec<u8>> = lens
            .iter()
            .map(|n| bytes_of(&json!({"total": total, "comments": vec![json!({"id": "1"}); *n]})))
            .collect();
        let (read, _) = fuzzing::comment_walk(&comment_pages);
        prop_assert!(read <= fuzzing::MAX_COMMENT_PAGES);
        let search_pages: Vec<Vec<u8>> = tokens
            .iter()
            .zip(last.iter().cycle())
            .zip(lens.iter().cycle())
            .map(|((token, last), n)| {
                bytes_of(&json!({"issues": vec![json!({"id": "1"}); *n], "nextPageToken": token, "isLast": last}))
            })
            .collect();
        let (read, _) = fuzzing::search_walk(&search_pages);
        prop_assert!(read <= fuzzing::MAX_SEARCH_PAGES);
    }
}

/// Fresh tokens on every page: the walk still stops at the page cap, with
/// an error rather than a partial answer.
#[test]
fn fresh_tokens_forever_stop_at_the_page_cap() {
    // `search_walk` cycles through the pages it is given; give it more
    // distinct tokens than the cap.
    let pages: Vec<Vec<u8>> = (0..fuzzing::MAX_SEARCH_PAGES + 5)
        .map(|n| {
            bytes_of(&json!({"issues": [{"id": n.to_string()}], "nextPageToken": format!("t{n}")}))
        })
        .collect();
    let (read, result) = fuzzing::search_walk(&pages);
    assert_eq!(read, fuzzing::MAX_SEARCH_PAGES);
    let err = result.unwrap_err();
    assert!(err.to_string().contains("still not the last page"), "{err}");
    assert!(!err.is_retryable());
}
