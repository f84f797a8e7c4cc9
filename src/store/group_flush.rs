//! Group commit: concurrent callers of `Store::flush` share one disk flush.
//!
//! A flush makes durable everything written before it *started*. Under load
//! (64 webhook senders, several planning lanes, the delivery workers) every
//! step flushes before it answers, and one `fsync` at a time is the ceiling
//! of the whole daemon. The gate runs one flush at a time; a caller that
//! waited while another flush ran checks, once it holds the gate, whether a
//! flush that *started after its own call* has completed meanwhile: then
//! its writes are on disk and it returns without flushing again. Otherwise
//! it flushes, covering itself and everyone who called before it started.
//!
//! So a caller waits at most for the flush in progress plus one more, and
//! N concurrent callers cost about two flushes instead of N. Nothing relies
//! on counting transactions: any write made before the call (a transaction,
//! sled's id counter) is covered by a flush that started after it. A flush
//! that fails completes nothing: every waiter then tries its own and sees
//! its own error.
//!
//! sled holds its global concurrency lock (read side) through a flush's
//! `fsync`, and a transaction takes the write side: every transaction waits
//! for the flush in progress. [`off_the_runtime`] lets a tokio worker that
//! runs a transaction hand its other tasks to another thread first, so
//! webhooks keep being read and verified while the disk flushes, and the
//! next flush finds a full batch.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

/// One flush at a time, shared by everyone who asked before it started.
#[derive(Default)]
pub(super) struct FlushGate {
    gate: tokio::sync::Mutex<()>,
    /// Flushes started so far (the running one's number, under the gate).
    started: AtomicU64,
    /// The number of the last flush that completed successfully.
    completed: AtomicU64,
    /// Calls answered by another caller's flush (checked by the tests).
    shared: AtomicU64,
}

impl FlushGate {
    /// Returns once a flush that started after this call has succeeded,
    /// running `flush` itself when no other caller's flush covers it.
    pub(super) async fn flush<F, Fut, E>(&self, flush: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let started_before_call = self.started.load(Ordering::SeqCst);
        let _turn = self.gate.lock().await;
        if self.completed.load(Ordering::SeqCst) > started_before_call {
            self.shared.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        flush().await?;
        self.completed.store(number, Ordering::SeqCst);
        Ok(())
    }
}

/// Runs `step` (a sled transaction) where waiting for a flush in progress
/// does not stall the tasks of the tokio worker that runs it: inside a
/// multi-thread runtime through `block_in_place`; elsewhere (a current-thread
/// runtime, no runtime: the CLI and most unit tests) directly.
pub(super) fn off_the_runtime<R>(step: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(step)
        }
        _ => step(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use super::*;

    /// Callers that arrive while a flush runs share the next one: many
    /// concurrent callers cost about two flushes, and each returns only
    /// after a flush that started after its call.
    #[tokio::test]
    async fn concurrent_callers_share_flushes_that_started_after_them() {
        let gate = Arc::new(FlushGate::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let (release, hold) = tokio::sync::watch::channel(false);
        // The first flush is held open until every other caller waits.
        let first = {
            let (gate, flushes, mut hold) = (gate.clone(), flushes.clone(), hold.clone());
            tokio::spawn(async move {
                gate.flush(|| async move {
                    flushes.fetch_add(1, Ordering::SeqCst);
                    let _ = hold.wait_for(|go| *go).await;
                    Ok::<(), ()>(())
                })
                .await
            })
        };
        while gate.started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let mut waiters = Vec::new();
        for _ in 0..32 {
            let (gate, flushes) = (gate.clone(), flushes.clone());
            waiters.push(tokio::spawn(async move {
                gate.flush(|| async move {
                    flushes.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), ()>(())
                })
                .await
            }));
        }
        for _ in 0..64 {
            tokio::task::yield_now().await;
        }
        // None of them may return on the flush that started before them.
        assert!(waiters.iter().all(|w| !w.is_finished()));
        release.send(true).unwrap();
        first.await.unwrap().unwrap();
        for w in waiters {
            w.await.unwrap().unwrap();
        }
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
        assert_eq!(gate.shared.load(Ordering::SeqCst), 31);
    }

    /// A failed flush covers nobody: the next caller flushes itself and a
    /// caller sees its own flush's error.
    #[tokio::test]
    async fn a_failed_flush_covers_no_one() {
        let gate = FlushGate::default();
        assert_eq!(
            gate.flush(|| async { Err::<(), _>("disk") }).await,
            Err("disk")
        );
        let ran = AtomicUsize::new(0);
        gate.flush(|| async {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<(), &str>(())
        })
        .await
        .unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        // Sequential callers each flush: nothing started after their call
        // had completed when they took the gate.
        gate.flush(|| async {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<(), &str>(())
        })
        .await
        .unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    }
}
