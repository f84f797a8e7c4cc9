//! What a connector reports about the bridge's webhook on the vendor side
//! ([`WebhookStatus`], from `Connector::webhook_status`) and about the
//! tenant's shared API budget ([`ApiBudget`], from `Connector::budget`).
//! Plain data for the CLI (`psa-bridge webhooks status`), the daemon's
//! self-healing check and the admin API.

use serde::{Deserialize, Serialize};

/// One vendor-side webhook (or callback) pointing at the bridge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorHook {
    /// What kind of hook this is (`ticket`, `note`, `callback`, `webhook`).
    pub kind: String,
    /// The vendor's id of the hook.
    pub id: String,
    pub url: String,
    /// Whether the vendor sends events through it now.
    pub active: bool,
    /// Events it is subscribed to (`create`, `update`, `jira:issue_updated`, …).
    pub events: Vec<String>,
    /// Fields it reports changes of (Autotask), by name.
    pub fields: Vec<String>,
    /// Resources whose changes raise no events (Autotask), by id.
    pub excluded_resources: Vec<String>,
}

/// The vendor's side of the bridge's webhook for one URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookStatus {
    /// The URL asked about.
    pub url: String,
    /// False when the vendor cannot tell (an admin sets the hook up by hand):
    /// then `note` says how to check it.
    pub supported: bool,
    /// Every hook registered for the URL, active or not.
    pub hooks: Vec<VendorHook>,
    /// What is wrong: a missing kind, an inactive hook, a missing field or
    /// exclusion. Empty when everything is as `register` leaves it.
    pub problems: Vec<String>,
    /// A remark for the operator (e.g. how to check by hand).
    pub note: Option<String>,
}

impl WebhookStatus {
    /// Whether at least one hook is registered for the URL.
    pub fn registered(&self) -> bool {
        !self.hooks.is_empty()
    }

    /// Registered, every hook active and nothing wrong: events flow.
    pub fn healthy(&self) -> bool {
        self.supported
            && self.registered()
            && self.hooks.iter().all(|h| h.active)
            && self.problems.is_empty()
    }

    /// Registered and something is wrong (inactive, incomplete), or missing:
    /// `register` would repair it. Always false when the vendor cannot tell.
    pub fn needs_repair(&self) -> bool {
        self.supported && !self.healthy()
    }

    /// A status for a vendor whose webhooks the bridge cannot inspect.
    pub fn unsupported(url: &str, note: impl Into<String>) -> Self {
        Self {
            url: url.to_string(),
            supported: false,
            note: Some(note.into()),
            ..Self::default()
        }
    }
}

/// How the bridge treats the tenant's shared request budget now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetState {
    /// Under the bridge's share: full speed.
    Ok,
    /// Past the bridge's share: calls are spaced out.
    Slowing,
    /// Close to the vendor's threshold: calls wait until the window frees.
    Paused,
}

/// The tenant's shared request budget as last read from the vendor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiBudget {
    /// Requests the vendor allows per window, for the whole tenant.
    pub threshold: u64,
    /// Length of the vendor's window in minutes.
    pub window_minutes: u64,
    /// Requests the tenant made in the current window (every integration).
    pub used: u64,
    /// The share of `threshold` the bridge may push the tenant to (0–1].
    pub share: f64,
    pub state: BudgetState,
    /// When the figures were read (RFC 3339), if ever.
    pub read_at: Option<String>,
}
