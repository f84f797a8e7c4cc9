//! One poller per connection: asks the vendor for tickets changed since the
//! durable cursor minus an overlap window, skips what was already planned at
//! that version (e.g. delivered by webhook), stores the rest, then advances
//! the cursor in the same transaction.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use psa_connector::Timestamp;

use super::enqueue;
use crate::engine::Engine;
use crate::store::{IntakeSource, TicketVersion};

/// Polls `connection` every `interval` until `shutdown` resolves.
pub async fn run_poller(
    engine: Arc<Engine>,
    connection: String,
    interval: Duration,
    overlap: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let span = tracing::info_span!("poll", connection = %connection);
        let outcome = match poll_once(&engine, &connection, overlap)
            .instrument(span)
            .await
        {
            Ok(_) => {
                engine.live.poll_ok(&connection, engine.clock.now());
                "ok"
            }
            Err(e) => {
                tracing::warn!(connection = %connection, error = %e, "poll failed; will try again");
                "failed"
            }
        };
        metrics::counter!("psa_bridge_polls_total", "connection" => connection.clone(), "outcome" => outcome)
            .increment(1);
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// How far a vendor stamp may lie ahead of the bridge's clock before the
/// cursor stops following it: a future-dated ticket must not freeze polling.
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);

/// How long after a vendor stamp's second a read must have started for the
/// bridge to be sure it saw every change carrying that stamp (the second
/// itself plus clock skew between vendor and bridge).
pub const SAME_STAMP_MARGIN: chrono::Duration = chrono::Duration::seconds(3);

/// What the poller does with one hit, given the version the engine planned from.
#[derive(Debug, PartialEq, Eq)]
pub enum HitDecision {
    /// The engine planned from a newer version, or from this version with a
    /// read that began after every change of this stamp: nothing new.
    Skip,
    /// Store the hint as it is.
    Enqueue,
    /// Same stamp as the planned version, but the read may have missed a
    /// later change within the same second: check again once, under a
    /// delivery key tied to that read so later polls do not repeat it.
    Recheck { dedup_key: String },
}

/// Decides whether a poll hit stamped `at` needs planning.
pub fn decide(hint_key: &str, at: Option<Timestamp>, known: Option<TicketVersion>) -> HitDecision {
    let (Some(at), Some(known)) = (at, known) else {
        return HitDecision::Enqueue;
    };
    if known.at > at {
        return HitDecision::Skip;
    }
    if known.at < at {
        return HitDecision::Enqueue;
    }
    let covered_from = at
        .checked_add_signed(chrono::Duration::seconds(1) + SAME_STAMP_MARGIN)
        .unwrap_or(at);
    match known.read_at {
        Some(read_at) if read_at >= covered_from => HitDecision::Skip,
        read_at => HitDecision::Recheck {
            dedup_key: format!(
                "{hint_key}:recheck:{}",
                read_at.map_or(0, |r| r.timestamp_millis())
            ),
        },
    }
}

/// The cursor after a poll: the newest stamp seen, but never further ahead
/// of `now` than [`MAX_CLOCK_SKEW`], so one future-dated ticket cannot
/// freeze the connection's polling until that date.
pub fn next_cursor(
    cursor: Option<Timestamp>,
    stamps: impl Iterator<Item = Timestamp>,
    now: Timestamp,
) -> Option<Timestamp> {
    let latest_trusted = now.checked_add_signed(MAX_CLOCK_SKEW).unwrap_or(now);
    let mut newest = cursor.map(|c| c.min(latest_trusted));
    for at in stamps {
        if at > latest_trusted {
            tracing::warn!(stamp = %at, "vendor stamp lies in the future; the poll cursor does not follow it");
        }
        let at = at.min(latest_trusted);
        newest = Some(newest.map_or(at, |n| n.max(at)));
    }
    newest
}

/// One poll round. Returns how many notices were stored.
pub async fn poll_once(
    engine: &Engine,
    connection: &str,
    overlap: Duration,
) -> Result<usize, String> {
    poll_from(engine, connection, overlap, None).await
}

/// A poll round from `since` instead of the cursor (a catch-up over a
/// webhook gap): hits are decided and stored exactly as a poll's, so what
/// was already planned or stored is not stored again; the cursor only
/// moves forward.
pub async fn poll_since(
    engine: &Engine,
    connection: &str,
    since: Timestamp,
) -> Result<usize, String> {
    poll_from(engine, connection, Duration::ZERO, Some(since)).await
}

async fn poll_from(
    engine: &Engine,
    connection: &str,
    overlap: Duration,
    from: Option<Timestamp>,
) -> Result<usize, String> {
    let conn = engine
        .connection(connection)
        .ok_or_else(|| format!("unknown connection {connection}"))?;
    let overlap = chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::minutes(2));
    let cursor = engine.store.cursor(connection).map_err(|e| e.to_string())?;
    let now = engine.clock.now();
    let since = from.unwrap_or_else(|| {
        cursor
            .unwrap_or(now)
            .checked_sub_signed(overlap)
            .unwrap_or(Timestamp::MIN_UTC)
    });
    let hints = conn
        .connector
        .changed_since(since)
        .await
        .map_err(|e| e.to_string())?;
    let new_cursor = next_cursor(cursor, hints.iter().filter_map(|h| h.updated_at), now)
        .or_else(|| now.checked_sub_signed(overlap));
    let mut fresh = Vec::new();
    for mut hint in hints {
        let known = engine
            .store
            .version(connection, &hint.ticket_id)
            .map_err(|e| e.to_string())?;
        match decide(&hint.dedup_key, hint.updated_at, known) {
            HitDecision::Skip => continue,
            HitDecision::Enqueue => {}
            HitDecision::Recheck { dedup_key } => hint.dedup_key = dedup_key,
        }
        fresh.push(hint);
    }
    let counts = enqueue(engine, connection, IntakeSource::Poll, &fresh, new_cursor)
        .await
        .map_err(|e| e.to_string())?;
    Ok(counts.accepted)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration as Span, TimeZone, Utc};

    use super::*;
    use crate::clock::SystemClock;
    use crate::demo::{DemoEnv, DemoOptions};
    use crate::store::{Store, TreeName};

    fn stamp() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 7).unwrap()
    }

    fn version(read_after: Option<Span>) -> Option<TicketVersion> {
        Some(TicketVersion {
            at: stamp(),
            read_at: read_after.map(|d| stamp() + d),
        })
    }

    #[test]
    fn newer_and_older_stamps() {
        let at = Some(stamp());
        assert_eq!(decide("k", at, None), HitDecision::Enqueue);
        assert_eq!(decide("k", None, version(None)), HitDecision::Enqueue);
        let older = Some(TicketVersion {
            at: stamp() - Span::seconds(1),
            read_at: None,
        });
        assert_eq!(decide("k", at, older), HitDecision::Enqueue);
        let newer = Some(TicketVersion {
            at: stamp() + Span::seconds(1),
            read_at: None,
        });
        assert_eq!(decide("k", at, newer), HitDecision::Skip);
    }

    #[test]
    fn a_future_stamp_does_not_freeze_the_cursor() {
        let now = stamp();
        let future = Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap();
        let cursor = next_cursor(Some(now - Span::minutes(5)), [future].into_iter(), now);
        assert_eq!(cursor, Some(now + MAX_CLOCK_SKEW));
        // A cursor stored in the future by an older version is pulled back too.
        assert_eq!(
            next_cursor(Some(future), std::iter::empty(), now),
            Some(now + MAX_CLOCK_SKEW)
        );
        let past = now - Span::seconds(30);
        assert_eq!(
            next_cursor(Some(now - Span::minutes(5)), [past].into_iter(), now),
            Some(past)
        );
    }

    /// A plan that read the ticket within the stamp's own second may have
    /// missed a second change with the same stamp: re-check, never skip.
    #[test]
    fn equal_stamp_read_within_the_second_is_rechecked() {
        let at = Some(stamp());
        let within = decide("k", at, version(Some(Span::milliseconds(400))));
        assert_eq!(
            within,
            HitDecision::Recheck {
                dedup_key: format!(
                    "k:recheck:{}",
                    (stamp() + Span::milliseconds(400)).timestamp_millis()
                )
            }
        );
        assert!(matches!(
            decide("k", at, version(None)),
            HitDecision::Recheck { .. }
        ));
        // A read that began well after the second had passed saw everything.
        assert_eq!(
            decide("k", at, version(Some(Span::seconds(5)))),
            HitDecision::Skip
        );
    }

    /// Against the ConnectWise simulator: a ticket planned from its current
    /// stamp by a read within that second is polled again; once a read has
    /// begun after the second, polling skips it.
    #[tokio::test]
    async fn poll_rechecks_a_same_second_version_once() {
        let dir = tempfile::tempdir().unwrap();
        let env = DemoEnv::start(dir.path(), &DemoOptions::default())
            .await
            .unwrap();
        let loaded = crate::config::load(&env.config_path, &|_| None).unwrap();
        let engine = Engine::new(
            Store::open(&dir.path().join("store")).unwrap(),
            crate::connections::build_all(&loaded.config.connections).unwrap(),
            loaded.pairings,
            Arc::new(SystemClock),
            Default::default(),
        );
        let ticket = env.connectwise.user_create_ticket(
            "Printer on fire",
            "Co-Managed",
            "ACME",
            "Priority 3 - Normal Response",
        );
        let at = engine
            .connection("connectwise")
            .unwrap()
            .connector
            .get_ticket(&ticket.id.to_string())
            .await
            .unwrap()
            .updated_at;
        let put_version = |read_at: Timestamp| {
            let version = TicketVersion {
                at,
                read_at: Some(read_at),
            };
            engine
                .store
                .transact(|tx| {
                    tx.put(
                        TreeName::Versions,
                        &crate::store::ticket_key("connectwise", &ticket.id.to_string()),
                        &version,
                    )
                })
                .unwrap();
        };
        let overlap = Duration::from_secs(60);
        put_version(at + Span::milliseconds(300));
        assert_eq!(poll_once(&engine, "connectwise", overlap).await.unwrap(), 1);
        // The same read does not cause a second re-check.
        assert_eq!(poll_once(&engine, "connectwise", overlap).await.unwrap(), 0);
        put_version(at + Span::seconds(10));
        assert_eq!(poll_once(&engine, "connectwise", overlap).await.unwrap(), 0);
    }
}
