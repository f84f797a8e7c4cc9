//! The bridge's receiver contract for ServiceNow notifications (ServiceNow
//! has no signed webhook of its own; see `docs/vendors/servicenow.md`):
//!
//! - `X-Bridge-Timestamp: <UNIX seconds>`
//! - `X-Bridge-Signature: sha256=<base64 HMAC-SHA256(secret, timestamp + "." + raw body)>`
//!
//! A timestamp more than [`MAX_SKEW_SECS`] away from the receiver's clock (either
//! way) is refused, so a captured request cannot be replayed later.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-bridge-signature";
/// Header carrying the UNIX timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "x-bridge-timestamp";
/// Largest clock difference accepted, in seconds.
pub const MAX_SKEW_SECS: i64 = 300;

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// `sha256=<base64 HMAC-SHA256(secret, timestamp + "." + body)>`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    match mac(secret, timestamp, body) {
        Some(mac) => format!(
            "sha256={}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        ),
        // HMAC takes keys of any length; unreachable in practice.
        None => String::new(),
    }
}

/// Whether `given` (raw MAC bytes) signs `timestamp.body` under `secret`, in constant time.
pub(crate) fn matches(secret: &str, timestamp: &str, body: &[u8], given: &[u8]) -> bool {
    mac(secret, timestamp, body)
        .is_some_and(|mac| bool::from(mac.finalize().into_bytes().as_slice().ct_eq(given)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac s -binary | base64
        let signature = sign("s", "1700000000", b"{}");
        assert_eq!(
            signature,
            "sha256=6SMsmUXahFbC3qaznad4bAewC8p6ZNXdEoNnRxOntyo="
        );
        let raw = base64::engine::general_purpose::STANDARD
            .decode(signature.trim_start_matches("sha256="))
            .unwrap();
        assert!(matches("s", "1700000000", b"{}", &raw));
        assert!(!matches("s", "1700000001", b"{}", &raw));
        assert!(!matches("t", "1700000000", b"{}", &raw));
    }
}
