//! Jira webhooks: the `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret,
//! raw body)>` check over the raw bytes, change hints deduplicated by
//! `X-Atlassian-Webhook-Identifier` (stable across Jira's retries), and
//! registration through the admin webhook API, idempotent by URL.
//! The body's `timestamp` (signed, epoch milliseconds) must be fresh
//! ([`check_fresh`]): the identifier header is not signed, so a captured
//! delivery is refused once it is old, and recognised by its body digest
//! (the bridge's replay key) while it is young.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where Jira puts the signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature";
/// One delivery's id, the same on every retry.
pub const IDENTIFIER_HEADER: &str = "x-atlassian-webhook-identifier";
/// Present on retries: the retry number.
pub const RETRY_HEADER: &str = "x-atlassian-webhook-retry";

/// Oldest delivery accepted, in seconds: Jira retries for up to about 30
/// minutes; a delivery older than this is refused (401, not retried) and
/// polling picks the change up.
pub const MAX_AGE_SECS: i64 = 3600;
/// How far ahead of the receiver's clock a delivery may be (clock skew).
pub const MAX_AHEAD_SECS: i64 = 300;

/// Whether a delivery whose body says `timestamp_ms` may be processed at
/// `now`; the error says why not.
pub fn check_fresh(timestamp_ms: i64, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    let age_ms = now.timestamp_millis().saturating_sub(timestamp_ms);
    if age_ms > MAX_AGE_SECS * 1000 {
        return Err(format!(
            "delivery timestamp is {}s old (more than {MAX_AGE_SECS}s): stale or replayed",
            age_ms / 1000
        ));
    }
    if age_ms < -MAX_AHEAD_SECS * 1000 {
        return Err(format!(
            "delivery timestamp is {}s ahead of this clock (more than {MAX_AHEAD_SECS}s)",
            age_ms.saturating_neg() / 1000
        ));
    }
    Ok(())
}

/// `sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex(&digest(secret, body)))
}

fn digest(secret: &str, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `header` (`sha256=<hex>`) is the signature of `body` under
/// `secret`, compared in constant time.
pub fn signature_matches(secret: &str, body: &[u8], header: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(hex_part) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(given) = unhex(&hex_part.to_ascii_lowercase()) else {
        return false;
    };
    let expected = digest(secret, body);
    !expected.is_empty() && bool::from(expected.ct_eq(&given))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fresh_timestamps_pass() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let ms = now.timestamp_millis();
        for ok in [
            ms,
            ms - 30 * 60 * 1000,
            ms - MAX_AGE_SECS * 1000,
            ms + 60 * 1000,
        ] {
            assert!(check_fresh(ok, now).is_ok(), "{ok}");
        }
        for stale in [ms - MAX_AGE_SECS * 1000 - 1, 1, 0, -1, i64::MIN] {
            let err = check_fresh(stale, now).unwrap_err();
            assert!(err.contains("stale"), "{stale}: {err}");
        }
        for ahead in [ms + MAX_AHEAD_SECS * 1000 + 1, i64::MAX] {
            let err = check_fresh(ahead, now).unwrap_err();
            assert!(err.contains("ahead"), "{ahead}: {err}");
        }
    }

    /// The vector published with Jira's webhook signature documentation.
    #[test]
    fn published_test_vector() {
        let secret = "It's a Secret to Everybody";
        let body = b"Hello World!";
        let expected = "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9";
        assert_eq!(sign(secret, body), expected);
        assert!(signature_matches(secret, body, expected));
        assert!(signature_matches(
            secret,
            body,
            &expected.to_ascii_uppercase().replace("SHA256", "sha256")
        ));
        assert!(!signature_matches(secret, b"Hello World?", expected));
        assert!(!signature_matches("other", body, expected));
        assert!(!signature_matches(
            secret,
            body,
            "a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"
        ));
        assert!(!signature_matches(secret, body, "sha256=zz"));
        assert!(!signature_matches(secret, body, "sha256="));
    }
}
