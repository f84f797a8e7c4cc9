//! Hostile input, bounded: arbitrary bytes and arbitrary JSON shaped like
//! ConnectWise's answers and callbacks never make the connector panic; a
//! callback is accepted only with a signature made with the signing key;
//! `companyinfo` never leads credentials out of the configured site's
//! region; no `/count` lets paging run past the hard cap. 256 cases per
//! property from a fixed seed; `scripts/fuzz.sh` explores further.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};
use psa_connector::WebhookRequest;
use psa_connectwise::{fuzzing, key_digest, sign, SIGNATURE_HEADER};
use serde_json::{json, Map, Value};
use url::Url;

const KEY: &str = "proptest-signing-key";
const KEY_URL: &str =
    "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/system/callbackkey/index.rails?id=1";

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0xc0ec_7415),
        ..Config::default()
    }
}

const KEYS: &[&str] = &[
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
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("2026-11-25T10:00:00Z".to_string()),
            Just("9999-12-31T23:59:59Z".to_string()),
            Just("psa-bridge:acme:7".to_string()),
            Just("x [psa-bridge:acme:1:n:1]".to_string()),
            Just("ticket".to_string()),
            Just("demo".to_string()),
            Just("v4_6_release/".to_string()),
            Just("api-na.myconnectwise.net".to_string()),
            Just("https://evil.example".to_string()),
            Just(KEY_URL.to_string()),
            Just(r#"{"id":5,"_info":{"lastUpdated":"2026-11-25T10:00:00Z"}}"#.to_string()),
            any::<String>(),
        ]
        .prop_map(Value::String),
    ]
}

/// Arbitrary JSON whose object keys are mostly ConnectWise's.
fn vendor_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn bytes_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn hosts() -> Vec<String> {
    vec!["api-na.myconnectwise.net".to_string()]
}

fn callback(signature: &str, body: &[u8]) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(signature) {
        headers.insert(SIGNATURE_HEADER, v);
    }
    WebhookRequest {
        headers,
        query: None,
        body: Bytes::copy_from_slice(body),
    }
}

/// A callback body of the right shape with arbitrary values in it.
fn callback_body() -> impl Strategy<Value = Value> {
    (
        vendor_json(),
        vendor_json(),
        leaf(),
        leaf(),
        prop::option::of(leaf()),
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
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(first in prop::collection::vec(any::<u8>(), 0..128),
                                   body in prop::collection::vec(any::<u8>(), 0..512),
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
    fn vendor_shaped_answers_never_panic(one in vendor_json(),
                                         page in prop::collection::vec(vendor_json(), 0..4)) {
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
    fn companyinfo_never_leads_credentials_away(site_url in leaf(), codebase in leaf()) {
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
                                                 raw in vendor_json()) {
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
