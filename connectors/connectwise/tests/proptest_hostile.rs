//! Hostile input, bounded: arbitrary bytes and arbitrary JSON shaped like
//! ConnectWise's answers and callbacks never make the connector panic; a
//! callback is accepted only with a signature made with the signing key;
//! `companyinfo` never leads credentials out of the configured site's
//! region; no `/count` lets paging run past the hard cap. 256 cases per
//! property from a fixed seed; `scripts/fuzz.sh` explores further.

use proptest::prelude::*;
use psa_connector::hostile::{self, bytes, bytes_of, Vendor};
use psa_connector::WebhookRequest;
use psa_connectwise::{fuzzing, key_digest, sign, SIGNATURE_HEADER};
use serde_json::{json, Value};
use url::Url;

const KEY: &str = "proptest-signing-key";
const KEY_URL: &str =
    "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/system/callbackkey/index.rails?id=1";

/// JSON whose object keys are mostly ConnectWise's.
const CONNECTWISE: Vendor = Vendor {
    // ConnectWise's field and callback names, plus a stranger.
    keys: &[
        "id",
        "summary",
        "board",
        "status",
        "priority",
        "company",
        "owner",
        "externalXRef",
        "closedFlag",
        "_info",
        "lastUpdated",
        "name",
        "identifier",
        "text",
        "detailDescriptionFlag",
        "resolutionFlag",
        "internalAnalysisFlag",
        "internalFlag",
        "member",
        "contact",
        "createdBy",
        "dateCreated",
        "Codebase",
        "SiteUrl",
        "code",
        "message",
        "errors",
        "field",
        "count",
        "MessageId",
        "Action",
        "Type",
        "ID",
        "CompanyId",
        "Entity",
        "Metadata",
        "key_url",
        "signing_key",
        "x",
    ],
    // ConnectWise's dates, markers, codebase and hosts (one hostile), the key
    // URL and a ticket as a string (callbacks carry the entity as JSON text).
    strings: &[
        "2026-11-25T10:00:00Z",
        "9999-12-31T23:59:59Z",
        "psa-bridge:acme:7",
        "x [psa-bridge:acme:1:n:1]",
        "ticket",
        "demo",
        "v4_6_release/",
        "api-na.myconnectwise.net",
        "https://evil.example",
        KEY_URL,
        r#"{"id":5,"_info":{"lastUpdated":"2026-11-25T10:00:00Z"}}"#,
    ],
    unsigned: true,
};

fn hosts() -> Vec<String> {
    vec!["api-na.myconnectwise.net".to_string()]
}

fn callback(signature: &str, body: &[u8]) -> WebhookRequest {
    hostile::request(&[(SIGNATURE_HEADER, Some(signature))], body)
}

/// A callback body of the right shape with arbitrary values in it.
fn callback_body() -> impl Strategy<Value = Value> {
    (
        CONNECTWISE.json(),
        CONNECTWISE.json(),
        CONNECTWISE.leaf(),
        CONNECTWISE.leaf(),
        prop::option::of(CONNECTWISE.leaf()),
    )
        .prop_map(|(entity, extra, id, company, message)| {
            let mut body = json!({
                "Action": "updated",
                "Type": "ticket",
                "ID": id,
                "CompanyId": company,
                "Entity": entity.to_string(),
                "Metadata": {"key_url": KEY_URL},
                "Extra": extra,
            });
            if let Some(m) = message {
                body["MessageId"] = m;
            }
            body
        })
}

proptest! {
    #![proptest_config(hostile::config(0xc0ec_7415))]

    #[test]
    fn arbitrary_bytes_never_panic(first in bytes(0..128),
                                   body in bytes(0..512),
                                   status in 400u16..600) {
        let _ = fuzzing::ticket(&body, false);
        let _ = fuzzing::notes(&body);
        let _ = fuzzing::tickets(&body);
        let _ = fuzzing::catalog(&first, &body, &body);
        let _ = fuzzing::paging(&first, &body);
        let _ = fuzzing::error(status, &body);
        let _ = fuzzing::key_body(&body);
        let _ = fuzzing::key_host(&String::from_utf8_lossy(&first));
    }

    #[test]
    fn vendor_shaped_answers_never_panic(one in CONNECTWISE.json(),
                                         page in prop::collection::vec(CONNECTWISE.json(), 0..4)) {
        let _ = fuzzing::ticket(&bytes_of(&one), true);
        let page = bytes_of(&Value::Array(page));
        let _ = fuzzing::notes(&page);
        let _ = fuzzing::tickets(&page);
        let _ = fuzzing::catalog(&page, &page, &page);
        let _ = fuzzing::error(400, &bytes_of(&one));
        let _ = fuzzing::key_body(&bytes_of(&one));
    }

    /// Whatever `SiteUrl` says, the API root stays on the configured
    /// site's ConnectWise region.
    #[test]
    fn companyinfo_never_leads_credentials_away(site_url in CONNECTWISE.leaf(), codebase in CONNECTWISE.leaf()) {
        let site = Url::parse("https://na.myconnectwise.net/").unwrap();
        let body = bytes_of(&json!({"Codebase": codebase, "SiteUrl": site_url}));
        if let Ok(root) = fuzzing::company_info(&site, &body) {
            let host = root.host_str().unwrap_or_default();
            prop_assert!(host.ends_with("na.myconnectwise.net"), "{root}");
            prop_assert_eq!(root.scheme(), "https");
        }
    }

    /// Whatever `/count` says, at most 1,000 pages are read.
    #[test]
    fn no_count_lets_paging_run_past_the_hard_cap(count in any::<u64>(), link in "[ -~]{0,80}") {
        let (_, cap) = fuzzing::paging(link.as_bytes(), &bytes_of(&json!({"count": count})));
        prop_assert!(cap.is_some_and(|c| c <= 1_000));
    }

    #[test]
    fn signed_callbacks_of_any_shape_never_panic(body in callback_body(),
                                                 raw in CONNECTWISE.json()) {
        for body in [bytes_of(&body), bytes_of(&raw)] {
            let signature = sign(&key_digest(KEY), &body);
            if let Ok(hints) = fuzzing::callback(&callback(&signature, &body), KEY, "demo", &hosts()) {
                prop_assert!(hints.len() <= 1);
            }
        }
    }

    #[test]
    fn unsigned_or_forged_callbacks_are_refused(body in callback_body(),
                                                signature in "[ -~]{0,60}") {
        let body = bytes_of(&body);
        let wrong = sign(&key_digest("another-key"), &body);
        for signature in [signature.as_str(), wrong.as_str()] {
            let result = fuzzing::callback(&callback(signature, &body), KEY, "demo", &hosts());
            prop_assert!(result.is_err());
        }
    }
}
