//! Note authors as people's names: `GET /V1.0/Resources/{id}` turns a
//! note's `creatorResourceID` into "First Last", remembered per connector so
//! each resource is looked up at most once per process.
//!
//! A lookup that fails falls back to the id. "Not found" (404, `item: null`)
//! and other permanent failures are remembered; retryable ones (429, 5xx,
//! timeouts, transport errors) are not, so a later listing tries again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use psa_connector::ConnectorError;
use tokio::sync::OnceCell;

use crate::client::AutotaskConnector;
use crate::wire::{self, WireNote, WireResource};

/// One cell per resource id; an empty cell means "not looked up (successfully) yet".
type Cell = Arc<OnceCell<Option<String>>>;

/// Resource id → display name (`None`: the resource has no usable name).
#[derive(Default)]
pub(crate) struct ResourceNames {
    cells: Mutex<HashMap<i64, Cell>>,
}

impl ResourceNames {
    fn cell(&self, id: i64) -> Cell {
        // Plain data behind the lock: a poisoned lock is still usable.
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        cells.entry(id).or_default().clone()
    }

    /// The name of resource `id`, running `fetch` only when no earlier lookup
    /// settled it. Concurrent callers for one id share a single `fetch`.
    pub(crate) async fn name<F, Fut>(&self, id: i64, fetch: F) -> String
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<String>, ConnectorError>>,
    {
        let cell = self.cell(id);
        let settled = cell
            .get_or_try_init(|| async move {
                match fetch().await {
                    Ok(name) => Ok(name),
                    Err(ConnectorError::NotFound(_)) => Ok(None),
                    Err(e) if e.is_retryable() => Err(e),
                    Err(e) => {
                        tracing::warn!(resource = id, error = %e, "autotask resource lookup failed; showing the id");
                        Ok(None)
                    }
                }
            })
            .await;
        match settled {
            Ok(Some(name)) => name.clone(),
            Ok(None) => id.to_string(),
            Err(e) => {
                tracing::warn!(resource = id, error = %e, "autotask resource lookup failed; will retry on the next listing");
                id.to_string()
            }
        }
    }
}

/// "First Last", else the user name, else the e-mail address.
pub(crate) fn display_name(resource: &WireResource) -> Option<String> {
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let full: Vec<String> = [&resource.first_name, &resource.last_name]
        .into_iter()
        .filter_map(clean)
        .collect();
    if !full.is_empty() {
        return Some(full.join(" "));
    }
    clean(&resource.user_name).or_else(|| clean(&resource.email))
}

impl AutotaskConnector {
    /// `GET Resources/{id}` → display name; `Ok(None)` when it has none.
    async fn fetch_resource_name(&self, id: i64) -> Result<Option<String>, ConnectorError> {
        let item = self
            .get_item(&format!("Resources/{id}"), &format!("resource {id}"))
            .await?;
        let resource: WireResource = wire::from_item("resource", item)?;
        Ok(display_name(&resource))
    }

    /// Who wrote a note: the creating resource's name (or id), else the
    /// contact who wrote it (client portal, e-mail), else nobody known.
    pub(crate) async fn note_author(&self, note: &WireNote) -> Option<String> {
        if let Some(id) = note.creator_resource_id {
            let name = self
                .resource_names
                .name(id, || self.fetch_resource_name(id))
                .await;
            return Some(name);
        }
        note.created_by_contact_id.map(|c| format!("Contact {c}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn http(status: u16) -> ConnectorError {
        ConnectorError::Http {
            status,
            message: "x".into(),
            retry_after: None,
        }
    }

    #[tokio::test]
    async fn caches_names_and_not_found_but_retries_transient_errors() {
        let names = ResourceNames::default();
        let calls = AtomicUsize::new(0);
        let fetch = |answer: Result<Option<String>, ConnectorError>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { answer }
        };
        assert_eq!(
            names.name(1, || fetch(Ok(Some("Tina Tech".into())))).await,
            "Tina Tech"
        );
        assert_eq!(
            names.name(1, || fetch(Ok(Some("other".into())))).await,
            "Tina Tech"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let not_found = || fetch(Err(ConnectorError::NotFound("resource 2".into())));
        assert_eq!(names.name(2, not_found).await, "2");
        assert_eq!(names.name(2, || fetch(Ok(Some("late".into())))).await, "2");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "not found is remembered");

        assert_eq!(names.name(3, || fetch(Err(http(503)))).await, "3");
        assert_eq!(
            names.name(3, || fetch(Err(ConnectorError::Timeout))).await,
            "3"
        );
        assert_eq!(names.name(3, || fetch(Ok(Some("Sam".into())))).await, "Sam");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            5,
            "transient errors are retried"
        );

        assert_eq!(names.name(4, || fetch(Err(http(403)))).await, "4");
        assert_eq!(names.name(4, || fetch(Ok(Some("x".into())))).await, "4");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            6,
            "permanent errors are remembered"
        );
    }

    #[test]
    fn display_names() {
        let r =
            |first: Option<&str>, last: Option<&str>, user: Option<&str>, email: Option<&str>| {
                WireResource {
                    id: None,
                    active: None,
                    default_role: None,
                    first_name: first.map(str::to_string),
                    last_name: last.map(str::to_string),
                    user_name: user.map(str::to_string),
                    email: email.map(str::to_string),
                }
            };
        let name = |w| display_name(&w);
        assert_eq!(
            name(r(Some(" Tina "), Some("Tech"), None, None)).as_deref(),
            Some("Tina Tech")
        );
        assert_eq!(
            name(r(None, Some("Tech"), Some("tt"), None)).as_deref(),
            Some("Tech")
        );
        assert_eq!(
            name(r(Some(""), Some(" "), Some("tt"), None)).as_deref(),
            Some("tt")
        );
        assert_eq!(
            name(r(None, None, None, Some("a@b.c"))).as_deref(),
            Some("a@b.c")
        );
        assert_eq!(name(r(None, None, Some(""), None)), None);
    }
}
