//! Callbacks: verifying an incoming ConnectWise callback and registering the
//! bridge's callback.
//!
//! Authentication is the signature alone: HMAC-SHA256 over the raw body with
//! the signing key fetched from `Metadata.key_url` on an allow-listed host
//! (fetched again once, rate limited, when a cached key does not verify: the
//! key may have been rotated). The body's `CompanyId` is only a filter
//! applied after that: a genuine callback for another company is answered
//! (so ConnectWise does not retry it or disable the callback) with no change
//! hints, so nothing is stored.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::Method;
use psa_connector::{ChangeHint, ConnectorError, WebhookError, WebhookRequest};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::api::{cw_datetime, CwCallback};
use crate::client::ConnectWiseConnector;
use crate::keys::Refetch;

/// Header carrying `base64(HMAC-SHA256(SHA256(signing_key), body))`.
pub const SIGNATURE_HEADER: &str = "x-content-signature";

/// The parts of a callback body the bridge uses.
#[derive(Debug)]
pub(crate) struct ParsedCallback {
    pub message_id: Option<String>,
    pub action: String,
    pub kind: String,
    pub id: String,
    /// The ticket as ConnectWise rendered it; `None` on delete and when
    /// `Entity` is not a JSON object (the callback still counts).
    pub entity: Option<Value>,
    /// The identifier of the member who made the change, when given.
    pub member_id: Option<String>,
    pub key_url: String,
    /// A filter only (which company's change this is), never authentication.
    pub company_id: String,
}

fn malformed(what: &str) -> WebhookError {
    WebhookError::Malformed(what.to_string())
}

/// Checks the payload's shape (no network). `Entity` is JSON inside a string.
pub(crate) fn parse_callback(body: &[u8]) -> Result<ParsedCallback, WebhookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| malformed(&format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| malformed("not a JSON object"))?;
    let text = |name: &str| obj.get(name).and_then(Value::as_str).map(str::to_string);
    let key_url = obj
        .get("Metadata")
        .and_then(|m| m.get("key_url"))
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("Metadata.key_url missing"))?
        .to_string();
    let id = match obj.get("ID") {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n > 0) => n.to_string(),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok_and(|n| n > 0) => {
            s.trim().to_string()
        }
        _ => return Err(malformed("ID missing or not a positive integer")),
    };
    let kind = text("Type").ok_or_else(|| malformed("Type missing"))?;
    let action = text("Action").ok_or_else(|| malformed("Action missing"))?;
    let entity = match obj.get("Entity") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(inner) if inner.is_object() => Some(inner),
            // Only the hint's detail comes from the entity: a callback whose
            // entity cannot be read still says which ticket changed.
            Ok(_) => {
                tracing::debug!("callback Entity is not a JSON object; ignored");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "callback Entity is not JSON; ignored");
                None
            }
        },
        Some(_) => return Err(malformed("Entity must be a JSON-encoded string")),
    };
    Ok(ParsedCallback {
        message_id: text("MessageId").filter(|m| !m.trim().is_empty()),
        action,
        kind,
        id,
        entity,
        member_id: text("MemberId").filter(|m| !m.trim().is_empty()),
        key_url,
        company_id: text("CompanyId").ok_or_else(|| malformed("CompanyId missing"))?,
    })
}

/// Whether `url` is on an allow-listed host (`host` means default port
/// only; `hosts` are normalised: lower case, no trailing dot).
pub(crate) fn host_allowed(url: &Url, hosts: &[String]) -> bool {
    let Some(host) = url
        .host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
    else {
        return false;
    };
    let with_port = url.port().map(|p| format!("{host}:{p}"));
    hosts.iter().any(|allowed| match &with_port {
        Some(hp) => allowed == hp,
        None => allowed == &host,
    })
}

/// Whether `signature` is `HMAC-SHA256(key, body)` (compared in constant time).
pub(crate) fn signature_ok(key: &[u8; 32], body: &[u8], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

/// `base64(HMAC-SHA256(key, body))`.
pub fn sign(key_digest: &[u8; 32], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this never yields the empty string.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key_digest) else {
        return String::new();
    };
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `SHA256(utf8(signing_key))`, the HMAC key ConnectWise signs with.
pub fn key_digest(signing_key: &str) -> [u8; 32] {
    Sha256::digest(signing_key.as_bytes()).into()
}

/// What a callback carries to be authenticated: its parsed body, the
/// signature bytes and the allow-listed `key_url` (checked with no network:
/// anything refused here never causes a key fetch).
pub(crate) fn callback_credentials(
    request: &WebhookRequest,
    site_scheme: &str,
    key_hosts: &[String],
) -> Result<(ParsedCallback, Vec<u8>, Url), WebhookError> {
    let parsed = parse_callback(&request.body)?;
    let signature = request
        .headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| WebhookError::Unauthorized(format!("{SIGNATURE_HEADER} missing")))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| WebhookError::Unauthorized("signature is not base64".into()))?;
    let key_url = Url::parse(&parsed.key_url)
        .map_err(|_| WebhookError::Unauthorized("key_url is not a URL".into()))?;
    let scheme_ok = key_url.scheme() == "https" || key_url.scheme() == site_scheme;
    if !scheme_ok || !host_allowed(&key_url, key_hosts) {
        tracing::warn!(
            host = key_url.host_str().unwrap_or(""),
            "callback key_url on a host not in callback_key_hosts; refused without fetching"
        );
        return Err(WebhookError::Unauthorized(
            "key_url host is not in callback_key_hosts".into(),
        ));
    }
    Ok((parsed, signature, key_url))
}

/// The change hints of an authenticated callback for `company_id`, with an
/// empty detail (the connector fills it, `crate::hint_detail`).
pub(crate) fn authenticated_hints(parsed: &ParsedCallback, company_id: &str) -> Vec<ChangeHint> {
    // Authenticated. CompanyId only filters: ConnectWise signs every
    // company's callbacks with keys from the same hosts, so a genuine
    // callback may be another company's (a shared URL). It is answered
    // (no retries, the callback is not disabled) and nothing is stored.
    let ours = company_id.trim();
    if !parsed.company_id.trim().eq_ignore_ascii_case(ours) {
        tracing::info!(
            company = %parsed.company_id,
            "callback for another ConnectWise company; answered, nothing stored"
        );
        return Vec::new();
    }
    if !parsed.kind.eq_ignore_ascii_case("ticket") {
        tracing::debug!(kind = %parsed.kind, "ignoring callback for another record type");
        return Vec::new();
    }
    let updated_at: Option<DateTime<Utc>> = parsed
        .entity
        .as_ref()
        .and_then(|e| e.pointer("/_info/lastUpdated"))
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc));
    let dedup_key = match &parsed.message_id {
        Some(id) => format!("connectwise:hook:{id}"),
        None => format!(
            "connectwise:hook:{}:{}:{}",
            parsed.id,
            parsed.action,
            updated_at.map(cw_datetime).unwrap_or_default()
        ),
    };
    vec![ChangeHint {
        ticket_id: parsed.id.clone(),
        updated_at,
        dedup_key,
        detail: Default::default(),
    }]
}

impl ConnectWiseConnector {
    pub(crate) async fn do_verify_webhook(
        &self,
        request: &WebhookRequest,
    ) -> Result<Vec<ChangeHint>, WebhookError> {
        let (parsed, signature, key_url) =
            callback_credentials(request, &self.keys.site_scheme, &self.key_hosts)?;
        let key = self.keys.key(&key_url).await?;
        let mut verified = signature_ok(&key.digest, &request.body, &signature);
        if !verified && key.cached {
            // The cached key may have been rotated: fetch it once more.
            if let Refetch::Changed(fresh) = self.keys.refetch(&key_url, &key.digest).await? {
                verified = signature_ok(&fresh, &request.body, &signature);
            }
        }
        if !verified {
            return Err(WebhookError::Unauthorized(format!(
                "signature mismatch: {SIGNATURE_HEADER} does not match the body"
            )));
        }
        let mut hints = authenticated_hints(&parsed, &self.settings.company_id);
        for hint in &mut hints {
            hint.detail = self.callback_detail(&parsed).await;
        }
        Ok(hints)
    }

    pub(crate) async fn do_register_webhook(&self, url: &str) -> Result<(), ConnectorError> {
        Url::parse(url)
            .map_err(|e| ConnectorError::Config(format!("callback url {url:?}: {e}")))?;
        let target = crate::callback_status::callback_target(url);
        let existing: Vec<CwCallback> = self.get_all("system/callbacks", &[]).await?;
        if let Some(found) = existing.iter().find(|c| c.url == target || c.url == url) {
            if found.inactive {
                // ConnectWise deactivates a callback after three days of
                // failed deliveries: switch it back on, or no callback
                // would ever arrive again.
                let api = self
                    .api_url(&format!("system/callbacks/{}", found.id), &[])
                    .await?;
                let ops = json!([{"op": "replace", "path": "inactiveFlag", "value": false}]);
                self.http.send(Method::PATCH, api, Some(&ops)).await?;
                tracing::warn!(
                    id = found.id,
                    "ConnectWise callback was deactivated; reactivated it"
                );
            } else {
                tracing::info!("ConnectWise callback already registered");
            }
            return Ok(());
        }
        let body = json!({
            "description": "psa-bridge",
            "url": target,
            "objectId": 1,
            "type": "ticket",
            "level": "owner",
            "payloadVersion": "3.0.0",
            "isSelfSuppressedFlag": false,
        });
        let api = self.api_url("system/callbacks", &[]).await?;
        self.http.send(Method::POST, api, Some(&body)).await?;
        tracing::info!("registered ConnectWise callback");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matches_host_and_port() {
        let hosts = vec![
            "api-na.myconnectwise.net".to_string(),
            "127.0.0.1:8080".to_string(),
        ];
        let ok = |u: &str| host_allowed(&Url::parse(u).unwrap(), &hosts);
        assert!(ok("https://api-na.myconnectwise.net/x"));
        assert!(ok("https://API-NA.myconnectwise.net./x"));
        assert!(ok("http://127.0.0.1:8080/x"));
        assert!(!ok("http://127.0.0.1:8081/x"));
        assert!(!ok("https://api-na.myconnectwise.net:444/x"));
        assert!(!ok("https://evil.example/x"));
        assert!(!ok("https://api-na.myconnectwise.net.evil.example/x"));
    }

    /// A known-answer vector computed outside this crate (Python 3:
    /// `base64(hmac.new(hashlib.sha256(key.encode()).digest(), body,
    /// hashlib.sha256).digest())`), so a wrong algorithm in `sign` or
    /// `key_digest` cannot pass by agreeing with itself.
    #[test]
    fn signature_known_answer() {
        let signing_key = "9f4c2a7e1b8d4e6f";
        let body = br#"{"MessageId":"3b7c1f0e","Action":"updated","Type":"ticket","ID":1001,"Metadata":{"key_url":"https://api-na.myconnectwise.net/v4_6_release/apis/3.0/system/callbackkey/index.rails?id=1"}}"#;
        let digest = key_digest(signing_key);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "d3c5de9a1808e425948a97099e8ff32c1239dc33e9158c09242a991a974d0841"
        );
        assert_eq!(
            sign(&digest, body),
            "Gh6lsOMpm2Gn6AEZkyc8qRj67roBsDU/ENC8QNtri74="
        );
    }

    #[test]
    fn entity_must_be_a_string() {
        let body = br#"{"CompanyId":"demo","Action":"updated","Type":"ticket","ID":5,"Entity":{"id":5},"Metadata":{"key_url":"https://x/k"}}"#;
        assert!(matches!(
            parse_callback(body),
            Err(WebhookError::Malformed(_))
        ));
        let body = br#"{"CompanyId":"demo","Action":"deleted","Type":"ticket","ID":5,"Entity":null,"Metadata":{"key_url":"https://x/k"}}"#;
        assert!(parse_callback(body).unwrap().entity.is_none());
    }

    #[test]
    fn company_id_is_required() {
        let body = br#"{"Action":"updated","Type":"ticket","ID":5,"Entity":null,"Metadata":{"key_url":"https://x/k"}}"#;
        assert!(
            matches!(parse_callback(body), Err(WebhookError::Malformed(m)) if m.contains("CompanyId"))
        );
    }
}
