//! A per-connection cache of people looked up by vendor id or by e-mail
//! address (owners sync matches people across systems by e-mail), so each
//! person is fetched at most once per process. Only settled answers are
//! kept (found, or "nobody has it"); a failed lookup is not, so the next
//! call asks again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use crate::error::ConnectorError;
use crate::model::Person;

/// People by vendor id and by lower-cased e-mail.
#[derive(Default)]
pub struct PeopleCache {
    by_id: Mutex<HashMap<String, Option<Person>>>,
    by_email: Mutex<HashMap<String, Option<Person>>>,
}

/// E-mail addresses compare case-insensitively, without surrounding blanks.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl PeopleCache {
    fn remember(&self, person: &Option<Person>) {
        if let Some(p) = person {
            let mut ids = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
            ids.insert(p.id.clone(), Some(p.clone()));
            if let Some(email) = p.email.as_deref().filter(|e| !e.trim().is_empty()) {
                let mut emails = self.by_email.lock().unwrap_or_else(|e| e.into_inner());
                emails.insert(email_key(email), Some(p.clone()));
            }
        }
    }

    /// The person with vendor id `id`, fetching it with `fetch` unless known.
    pub async fn by_id<F, Fut>(&self, id: &str, fetch: F) -> Result<Option<Person>, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Person>, ConnectorError>>,
    {
        if let Some(known) = self.by_id.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(known.clone());
        }
        // A person the API user may not read (403) or that is gone is shown
        // without e-mail rather than failing the ticket's read; a transient
        // failure fails it (retried), so the owner never looks changed.
        let found = match fetch().await {
            Err(ConnectorError::NotFound(_)) => None,
            Err(e) if !e.is_retryable() => {
                tracing::warn!(person = id, error = %e, "cannot read a ticket's assignee; matching by e-mail is not possible for them");
                None
            }
            other => other?,
        };
        self.remember(&found);
        if found.is_none() {
            let mut ids = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
            ids.insert(id.to_string(), None);
        }
        Ok(found)
    }

    /// What the cache holds for vendor id `id`, without fetching: `None`
    /// when the person was never looked up (or the lookup failed),
    /// `Some(None)` when the answer was "nobody".
    pub fn known(&self, id: &str) -> Option<Option<Person>> {
        self.by_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// The person whose e-mail is `email`, fetching with `fetch` unless known.
    pub async fn by_email<F, Fut>(
        &self,
        email: &str,
        fetch: F,
    ) -> Result<Option<Person>, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Person>, ConnectorError>>,
    {
        let key = email_key(email);
        if key.is_empty() {
            return Ok(None);
        }
        if let Some(known) = self
            .by_email
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(known.clone());
        }
        let found = fetch().await?;
        self.remember(&found);
        if found.is_none() {
            let mut emails = self.by_email.lock().unwrap_or_else(|e| e.into_inner());
            emails.insert(key, None);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn each_person_is_fetched_once_and_failures_are_not_kept() {
        let cache = PeopleCache::default();
        let calls = AtomicUsize::new(0);
        let tina = Person {
            id: "7".into(),
            name: Some("Tina Tech".into()),
            email: Some("Tina.Tech@example.com".into()),
        };
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Some(tina.clone()))
        };
        assert_eq!(
            cache
                .by_email("tina.tech@EXAMPLE.com", fetch)
                .await
                .unwrap(),
            Some(tina.clone())
        );
        // Known by id and by e-mail now.
        let never = || async { unreachable!("cached") };
        assert_eq!(cache.by_id("7", never).await.unwrap(), Some(tina.clone()));
        let never = || async { unreachable!("cached") };
        assert!(cache
            .by_email(" TINA.TECH@example.com ", never)
            .await
            .unwrap()
            .is_some());
        let forbidden = || async {
            Err(ConnectorError::Http {
                status: 403,
                message: "no read access to users".into(),
                retry_after: None,
            })
        };
        assert_eq!(cache.known("9"), None, "never looked up");
        assert_eq!(cache.by_id("9", forbidden).await.unwrap(), None);
        assert_eq!(cache.known("9"), Some(None), "settled: nobody");
        assert_eq!(cache.known("7"), Some(Some(tina.clone())));
        let failing = || async { Err(ConnectorError::Transport("down".into())) };
        assert!(cache.by_email("x@example.com", failing).await.is_err());
        let nobody = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        };
        assert_eq!(cache.by_email("x@example.com", nobody).await.unwrap(), None);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
