//! Hostile-input strategies shared by the connectors' property tests
//! (`connectors/*/tests/proptest_hostile.rs`): the fixed-seed proptest
//! [`config`], arbitrary JSON built from a vendor's key list with extreme
//! numbers, dates, markers and long strings ([`Vendor`]), arbitrary bytes
//! ([`bytes`]) and webhook requests with chosen headers ([`request`]).
//!
//! Test support only: compiled with the `test-support` feature, which the
//! connector crates enable in their `[dev-dependencies]` alone, so proptest
//! never becomes a dependency of the product.

use std::ops::Range;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};
use serde_json::{json, Map, Value};

use crate::{ChangeHint, Connector, WebhookError, WebhookRequest};

/// 256 cases from a fixed seed, nothing persisted: every run, CI included,
/// checks the same inputs (`scripts/fuzz.sh` explores further).
pub fn config(seed: u64) -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}

/// What JSON shaped like one vendor's answers and webhooks is made of.
#[derive(Clone, Copy, Debug)]
pub struct Vendor {
    /// Object keys the vendor uses (plus, by convention, a stranger).
    pub keys: &'static [&'static str],
    /// Strings worth drawing often: the vendor's date formats at their
    /// extremes, markers, enum values; any other string is drawn as well.
    pub strings: &'static [&'static str],
    /// Whether numbers include `u64` beyond `i64::MAX`.
    pub unsigned: bool,
}

impl Vendor {
    /// A JSON scalar: null, bool, extreme integers, any float, or a string.
    pub fn leaf(&self) -> BoxedStrategy<Value> {
        let strings = Union::new(
            self.strings
                .iter()
                .map(|s| Just(s.to_string()).boxed())
                .chain([any::<String>().boxed()]),
        )
        .prop_map(Value::String);
        if self.unsigned {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                strings,
            ]
            .boxed()
        } else {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                strings,
            ]
            .boxed()
        }
    }

    /// Arbitrary JSON whose object keys are the vendor's.
    pub fn json(&self) -> BoxedStrategy<Value> {
        let keys = self.keys;
        self.leaf()
            .prop_recursive(4, 64, 8, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((prop::sample::select(keys), inner), 0..8).prop_map(
                        |pairs| {
                            Value::Object(
                                pairs
                                    .into_iter()
                                    .map(|(k, v)| (k.to_string(), v))
                                    .collect::<Map<_, _>>(),
                            )
                        }
                    ),
                ]
            })
            .boxed()
    }
}

/// Arbitrary bytes, as many as `len` allows.
pub fn bytes(len: Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), len)
}

/// The JSON text of `value`.
pub fn bytes_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a serde_json::Value always serializes")
}

/// A webhook request carrying `body` and each header whose value is given
/// and valid in a header (an invalid one is left out, as a client would).
pub fn request(headers: &[(&'static str, Option<&str>)], body: &[u8]) -> WebhookRequest {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let Some(Ok(v)) = value.map(HeaderValue::from_str) {
            map.insert(*name, v);
        }
    }
    WebhookRequest {
        headers: map,
        query: None,
        body: Bytes::copy_from_slice(body),
    }
}

/// `connector.verify_webhook(request)`, run to completion.
pub fn verify<C: Connector + ?Sized>(
    connector: &C,
    request: &WebhookRequest,
) -> Result<Vec<ChangeHint>, WebhookError> {
    futures::executor::block_on(connector.verify_webhook(request))
}
