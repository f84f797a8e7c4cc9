//! Signing key rotation against the simulator: ConnectWise serves a new key
//! at the same `key_url`; the cached key no longer verifies, so the key is
//! fetched once more and callbacks signed with the new key are accepted. A
//! wrong signature with an unchanged key stays refused.

mod common;

use psa_connector::{Connector, WebhookError};
use psa_connectwise::ConnectWiseSim;

fn key_fetches(sim: &ConnectWiseSim) -> usize {
    sim.control()
        .requests()
        .iter()
        .filter(|r| r.path.contains("callbackkey"))
        .count()
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_again_and_verifies() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);

    let (body, signature) = sim.signed_callback(1001, "updated");
    let hints = connector
        .verify_webhook(&common::webhook(body, Some(&signature), 1001))
        .await
        .unwrap();
    assert_eq!(hints.len(), 1);
    assert_eq!(key_fetches(&sim), 1);

    sim.rotate_signing_key();
    let (body, signature) = sim.signed_callback(1001, "updated");
    let hints = connector
        .verify_webhook(&common::webhook(body, Some(&signature), 1001))
        .await
        .expect("a callback signed with the rotated key verifies");
    assert_eq!(hints.len(), 1);
    assert_eq!(key_fetches(&sim), 2, "the key was fetched once more");

    // The new key is cached: the next callback needs no fetch.
    let (body, signature) = sim.signed_callback(1001, "updated");
    connector
        .verify_webhook(&common::webhook(body, Some(&signature), 1001))
        .await
        .unwrap();
    assert_eq!(key_fetches(&sim), 2);
}

#[tokio::test]
async fn a_wrong_signature_is_refused_after_one_bounded_refetch() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let (body, signature) = sim.signed_callback(1001, "updated");
    connector
        .verify_webhook(&common::webhook(body.clone(), Some(&signature), 1001))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let forged = psa_connectwise::sign(&psa_connectwise::key_digest("guess"), &body);
    for _ in 0..5 {
        let r = connector
            .verify_webhook(&common::webhook(body.clone(), Some(&forged), 1001))
            .await;
        match r {
            Err(WebhookError::Unauthorized(m)) => assert!(m.contains("mismatch"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    // The first fetch, then one more for the whole burst: at most one per
    // key URL per minute (however slow this machine is; the interval itself
    // is unit-tested with a manual clock in `keys.rs`).
    let minutes = (started.elapsed().as_secs() / 60) as usize;
    let fetches = key_fetches(&sim);
    assert!(
        (2..=2 + minutes).contains(&fetches),
        "{fetches} key fetches"
    );
}
