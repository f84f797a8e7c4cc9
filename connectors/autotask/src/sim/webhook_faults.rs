//! What the simulated tenant does to webhooks and integrations that strain
//! it, as Autotask does:
//!
//! - a webhook whose deliveries fail `hook_failure_limit` times in a row
//!   (25 by default) is deactivated, and a signed `Deactivated` notice is
//!   posted to its DeactivationUrl;
//! - `ThresholdInformation` reports the requests of the rolling hour (every
//!   request the simulator saw plus the external usage knob, for other
//!   integrations on the tenant) against the tenant's threshold, and every
//!   other call at or over the threshold is refused with 429.
//!
//! Knobs for tests are on [`AutotaskSim`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::SecondsFormat;
use serde_json::json;

use super::events::Outgoing;
use super::state::{now_ms, Data, HookKind, HookRec};
use super::{AutotaskSim, Shared};
use crate::escape::to_autotask_json;

/// A webhook as the simulated tenant holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimWebhook {
    pub id: i64,
    /// `Ticket` or `TicketNote`.
    pub entity: &'static str,
    pub url: String,
    pub active: bool,
    /// Consecutive failed deliveries.
    pub failures: u32,
    /// Resource ids excluded.
    pub excluded: Vec<i64>,
    /// Field ids registered.
    pub fields: usize,
}

fn entity(kind: HookKind) -> &'static str {
    match kind {
        HookKind::Ticket => "Ticket",
        HookKind::Note => "TicketNote",
    }
}

/// Deactivates `hook` and builds its signed `Deactivated` notice.
fn deactivate(hook: &mut HookRec) -> Option<Outgoing> {
    if !hook.active {
        return None;
    }
    hook.active = false;
    hook.sequence += 1;
    let payload = json!({
        "Action": "Deactivated",
        "Guid": hook.guid,
        "EntityType": entity(hook.kind),
        "Id": hook.id,
        "Fields": {},
        "EventTime": now_ms().to_rfc3339_opts(SecondsFormat::Millis, true),
        "SequenceNumber": hook.sequence,
    });
    let body = to_autotask_json(&payload).into_bytes();
    let signature = crate::hooks::sign(&hook.secret, &body);
    Some(Outgoing {
        hook_id: hook.id,
        url: hook.deactivation_url.clone(),
        headers: vec![
            (
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            ),
            ("X-Hook-Signature".into(), signature),
        ],
        body,
    })
}

/// Counts one delivery's answer (`status` 0: none); returns the
/// deactivation notice to send when this failure was the last one allowed.
pub(crate) fn count_delivery(
    data: &Arc<Mutex<Data>>,
    hook_id: i64,
    status: u16,
) -> Option<Outgoing> {
    let mut data = data.lock().unwrap_or_else(|e| e.into_inner());
    let limit = data.hook_failure_limit.max(1);
    let hook = data.hooks.get_mut(&hook_id)?;
    if (200..300).contains(&status) {
        hook.failures = 0;
        return None;
    }
    hook.failures = hook.failures.saturating_add(1);
    if hook.failures < limit {
        return None;
    }
    tracing::warn!(
        hook = hook_id,
        failures = hook.failures,
        "simulated Autotask deactivates a failing webhook"
    );
    deactivate(hook)
}

impl Shared {
    /// Requests of the rolling hour: seen by the simulator plus external usage.
    pub(crate) fn requests_this_hour(&self) -> u64 {
        let seen = self.control.requests_within(Duration::from_secs(3600)) as u64;
        seen + self.lock().external_requests
    }

    /// The 429 refusal for a call when the tenant is at its threshold.
    pub(crate) fn over_threshold(&self) -> Option<String> {
        let threshold = self.lock().request_threshold;
        let used = self.requests_this_hour();
        (used >= threshold).then(|| {
            format!(
                "The request threshold of {threshold} requests per hour has been exceeded ({used} requests)."
            )
        })
    }
}

impl AutotaskSim {
    /// Every webhook (ticket and note) the tenant has.
    pub fn webhooks(&self) -> Vec<SimWebhook> {
        self.shared
            .lock()
            .hooks
            .values()
            .map(|h| SimWebhook {
                id: h.id,
                entity: entity(h.kind),
                url: h.url.clone(),
                active: h.active,
                failures: h.failures,
                excluded: h.excluded.iter().map(|e| e.1).collect(),
                fields: h.fields.len(),
            })
            .collect()
    }

    /// Deactivates every webhook as Autotask does after failed deliveries
    /// (the `Deactivated` notices are sent; wait with `wait_webhooks_idle`).
    pub fn deactivate_webhooks(&self) {
        let notices: Vec<Outgoing> = {
            let mut data = self.shared.lock();
            data.hooks.values_mut().filter_map(deactivate).collect()
        };
        for n in notices {
            let control = self.shared.control.clone();
            self.shared
                .tasks
                .track(self.shared.runtime.spawn(psa_connector::sim::send_webhook(
                    control, n.url, n.headers, n.body,
                )));
        }
    }

    /// Deactivates every webhook without any notice (a webhook created
    /// with a DeactivationUrl nobody answers, or an administrator's click).
    pub fn deactivate_webhooks_silently(&self) {
        for hook in self.shared.lock().hooks.values_mut() {
            hook.active = false;
        }
    }

    /// Consecutive failed deliveries after which a webhook is deactivated (25).
    pub fn set_webhook_failure_limit(&self, limit: u32) {
        self.shared.lock().hook_failure_limit = limit;
    }

    /// The tenant's requests per hour (10,000).
    pub fn set_request_threshold(&self, threshold: u64) {
        self.shared.lock().request_threshold = threshold;
    }

    /// Requests other integrations on the tenant made this hour.
    pub fn set_external_requests(&self, count: u64) {
        self.shared.lock().external_requests = count;
    }

    /// Requests counted against the tenant's threshold this hour.
    pub fn requests_this_hour(&self) -> u64 {
        self.shared.requests_this_hour()
    }

    /// How many calls were refused for the tenant's threshold.
    pub fn threshold_refusals(&self) -> usize {
        self.shared
            .threshold_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
