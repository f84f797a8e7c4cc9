//! Bundles cut from a real store's chain: they verify, tampering is named,
//! a bundle is compared with the store, and one pairing's bundle shows
//! nothing of another's. Signatures, keys and hostile files: `file_tests`.

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use super::bundle::{build, Sides};
use super::sign::{self, key_paths};
use super::*;
use crate::clock::{Clock, ManualClock};
use crate::store::{entry_hash, AuditEntry, AuditRecord, Store};

/// A store whose chain interleaves pairing `acme` and pairing `globex`
/// entries, one an hour from 2026-10-31T22:00Z: #1 acme, #2 globex, #3 and
/// #4 acme, #5 globex, #6 no pairing, #7 acme, #8 globex, #9 and #10 acme,
/// #11 globex, #12 acme.
pub(super) fn chain() -> (tempfile::TempDir, Vec<AuditEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 10, 31, 22, 0, 0).unwrap());
    let write = |pairing: Option<&str>, ticket: String, message: String| {
        store
            .transact(|tx| {
                tx.audit(
                    clock.now(),
                    AuditRecord {
                        kind: "planned",
                        pairing,
                        link: Some(1),
                        tickets: vec![ticket.clone()],
                        message: message.clone(),
                        detail: json!({ "secret": message }),
                    },
                )
            })
            .unwrap();
        clock.advance(Duration::hours(1));
    };
    for i in 0..12 {
        if i % 3 == 1 {
            write(
                Some("globex"),
                format!("cw:GLOBEX-{i}"),
                format!("globex private {i}"),
            );
        } else if i == 5 {
            write(None, format!("cw:NOPAIR-{i}"), format!("intake {i}"));
        } else {
            write(
                Some("acme"),
                format!("at:ACME-{i}"),
                format!("acme entry {i}"),
            );
        }
    }
    let entries = store.audit_entries().unwrap();
    (dir, entries)
}

fn sides() -> Sides {
    Sides {
        a: "at".into(),
        b: "cw".into(),
    }
}

/// acme's bundle for 2026-11-01 00:00 to 06:00 (entries #3..#8).
pub(super) fn acme_bundle(entries: &[AuditEntry]) -> Bundle {
    let from = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    Bundle::new(build(
        entries,
        "acme",
        sides(),
        from,
        from + Duration::hours(6),
        from + Duration::days(2),
    ))
}

fn full_positions(bundle: &Bundle) -> Vec<usize> {
    bundle
        .body
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Record::Entry(_)))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn a_bundle_verifies_and_links_anchor_span_and_head() {
    let (_d, entries) = chain();
    let bundle = acme_bundle(&entries);
    let body = &bundle.body;
    assert_eq!(body.anchor.seq, 2);
    assert_eq!(body.anchor.hash, entries[1].hash);
    let seqs: Vec<u64> = body.records.iter().map(Record::seq).collect();
    assert_eq!(seqs, vec![3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(body.head.seq, 12);
    assert!(matches!(
        body.records.last(),
        Some(Record::Gap {
            first: 9,
            last: 12,
            ..
        })
    ));
    let summary = verify_chain(body).unwrap();
    // Full: #3, #4, #7; stubs: #5, #6, #8; the gap: #9..#12.
    assert_eq!(summary.entries, 3);
    assert_eq!(summary.stubs, 3 + 4);
    // Through the file and back.
    let bytes = bundle.to_json().unwrap();
    let read = Bundle::parse("b.json", &bytes).unwrap();
    assert_eq!(read, bundle);
    assert!(verify_chain(&read.body).is_ok());
}

#[test]
fn the_whole_chain_and_an_empty_period_verify_too() {
    let (_d, entries) = chain();
    let from = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let all = build(
        &entries,
        "acme",
        sides(),
        from,
        from + Duration::days(60),
        from,
    );
    assert_eq!(all.anchor.seq, 0);
    assert_eq!(verify_chain(&all).unwrap().entries, 7);
    let later = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let empty = build(
        &entries,
        "acme",
        sides(),
        later,
        later + Duration::days(1),
        later,
    );
    assert!(empty.records.is_empty());
    assert_eq!(empty.anchor, empty.head);
    assert_eq!(verify_chain(&empty).unwrap().entries, 0);
    let none = build(&[], "acme", sides(), from, later, later);
    assert!(verify_chain(&none).is_ok());
}

#[test]
fn another_pairings_tickets_messages_and_details_stay_out() {
    let (_d, entries) = chain();
    let text = String::from_utf8(acme_bundle(&entries).to_json().unwrap()).unwrap();
    for e in &entries {
        if e.pairing.as_deref() != Some("acme") {
            for ticket in &e.tickets {
                assert!(!text.contains(ticket.as_str()), "{ticket} leaked");
            }
            assert!(!text.contains(&e.message), "{} leaked", e.message);
        }
    }
    assert!(!text.contains("globex"), "the other pairing's name leaked");
    assert!(!text.contains("NOPAIR"));
    assert!(text.contains("ACME-3"));
}

#[test]
fn an_altered_entry_is_named() {
    let (_d, entries) = chain();
    let mut bundle = acme_bundle(&entries);
    let at = full_positions(&bundle)[1];
    let Record::Entry(e) = &mut bundle.body.records[at] else {
        unreachable!()
    };
    e.message = "resolved within target".into();
    let seq = e.seq;
    let err = verify_chain(&bundle.body).unwrap_err();
    assert_eq!(err.seq, seq);
    assert!(err.reason.contains("altered"), "{err}");

    // Rewritten with a recomputed hash: the next full entry's link breaks.
    let rewrite = |bundle: &mut Bundle, position: usize| {
        let Record::Entry(e) = &mut bundle.body.records[position] else {
            unreachable!()
        };
        e.detail = json!({ "secret": "rewritten" });
        let mut stored = AuditEntry::from(&*e);
        stored.hash = entry_hash(&stored);
        e.hash = stored.hash;
    };
    let mut bundle = acme_bundle(&entries);
    rewrite(&mut bundle, 0);
    let err = verify_chain(&bundle.body).unwrap_err();
    assert_eq!(err.seq, 4, "{err}");
    assert!(err.reason.contains("previous-hash link"), "{err}");
}

/// An entry rewritten with a recomputed hash just before a stub: the stub's
/// hash (format 2) is recomputed from its content digest and the rewritten
/// entry's hash, so the offline check names the rewritten entry (before
/// hash format 2 only the signature caught this); the signature fails too.
#[test]
fn a_rewrite_next_to_a_stub_fails_offline_naming_the_entry() {
    let (_d, entries) = chain();
    let dir = tempfile::tempdir().unwrap();
    sign::generate(&dir.path().join("k")).unwrap();
    let (private, public) = key_paths(&dir.path().join("k"));
    let mut bundle = acme_bundle(&entries);
    sign::sign(&mut bundle, &sign::read_signing_key(&private).unwrap()).unwrap();
    assert!(matches!(bundle.body.records[5], Record::Stub(_)));
    let Record::Entry(e) = &mut bundle.body.records[4] else {
        unreachable!()
    };
    assert_eq!(e.seq, 7);
    e.message = "rewritten".into();
    let mut stored = AuditEntry::from(&*e);
    stored.hash = entry_hash(&stored);
    e.hash = stored.hash;
    let err = verify_chain(&bundle.body).unwrap_err();
    assert_eq!(err.seq, 7, "{err}");
    assert!(err.reason.contains("altered"), "{err}");
    let public = sign::read_public_key(&public).unwrap();
    let err = sign::check(&bundle, &public).unwrap_err();
    assert!(err.contains("changed after signing"), "{err}");
}

#[test]
fn reordered_removed_and_inserted_entries_are_named() {
    let (_d, entries) = chain();
    let mut bundle = acme_bundle(&entries);
    bundle.body.records.swap(2, 3);
    let err = verify_chain(&bundle.body).unwrap_err();
    assert_eq!(err.seq, 5, "{err}");
    assert!(err.reason.contains("reordered"), "{err}");

    let mut bundle = acme_bundle(&entries);
    let removed = bundle.body.records.remove(2);
    assert_eq!(removed.seq(), 5);
    let err = verify_chain(&bundle.body).unwrap_err();
    assert_eq!(err.seq, 5, "{err}");
    assert!(err.reason.contains("removed"), "{err}");

    // A forged #5 that links to #4 with a valid hash, before the real #5.
    let mut bundle = acme_bundle(&entries);
    let mut forged = AuditEntry::from(match &bundle.body.records[1] {
        Record::Entry(e) => e,
        _ => unreachable!(),
    });
    forged.message = "MSP responded".into();
    forged.hash = entry_hash(&forged);
    bundle
        .body
        .records
        .insert(1, Record::Entry(BundleEntry::from(&forged)));
    let err = verify_chain(&bundle.body).unwrap_err();
    assert_eq!(err.seq, 4, "{err}");
    assert!(err.reason.contains("inserted"), "{err}");

    // The last entries dropped together with the gap to the head.
    let mut bundle = acme_bundle(&entries);
    bundle.body.records.truncate(4);
    let err = verify_chain(&bundle.body).unwrap_err();
    assert_eq!(err.seq, 12, "{err}");
    assert!(err.reason.contains("removed"), "{err}");

    // An entry of another pairing carried in full is refused.
    let mut bundle = acme_bundle(&entries);
    assert_eq!(entries[4].pairing.as_deref(), Some("globex"));
    bundle.body.records[2] = Record::Entry(BundleEntry::from(&entries[4]));
    let err = verify_chain(&bundle.body).unwrap_err();
    assert_eq!(err.seq, 5, "{err}");
    assert!(err.reason.contains("not of pairing"), "{err}");
}

#[test]
fn a_bundle_is_compared_with_the_store_it_claims_to_come_from() {
    let (_d, entries) = chain();
    let bundle = acme_bundle(&entries);
    compare_with_chain(&bundle.body, &entries).unwrap();
    // The chain grew since: still the same entries at the same numbers.
    let mut longer = entries.clone();
    let mut next = entries[11].clone();
    next.seq = 13;
    next.prev_hash = entries[11].hash.clone();
    next.hash = entry_hash(&next);
    longer.push(next);
    compare_with_chain(&bundle.body, &longer).unwrap();
    // A store that lost its tail no longer holds the head.
    assert_eq!(
        compare_with_chain(&bundle.body, &entries[..10])
            .unwrap_err()
            .seq,
        12
    );

    // A rewrite next to a stub, hash recomputed: caught here too.
    let mut rewritten = bundle.clone();
    let Record::Entry(e) = &mut rewritten.body.records[4] else {
        unreachable!()
    };
    e.message = "rewritten".into();
    let mut stored = AuditEntry::from(&*e);
    stored.hash = entry_hash(&stored);
    e.hash = stored.hash;
    let err = compare_with_chain(&rewritten.body, &entries).unwrap_err();
    assert_eq!(err.seq, 7, "{err}");

    let mut stub = bundle.clone();
    stub.body.records[2] = Record::Stub(bundle::Stub {
        seq: 5,
        hash: "0".repeat(64),
        digest: None,
    });
    assert_eq!(compare_with_chain(&stub.body, &entries).unwrap_err().seq, 5);
    // The right hash with another digest.
    let mut digest = bundle.clone();
    if let Record::Stub(s) = &mut digest.body.records[2] {
        s.digest = Some("0".repeat(64));
    }
    let err = compare_with_chain(&digest.body, &entries).unwrap_err();
    assert!(err.seq == 5 && err.reason.contains("digest"), "{err}");
    let mut head = bundle.clone();
    head.body.head.seq = 40;
    assert_eq!(
        compare_with_chain(&head.body, &entries).unwrap_err().seq,
        40
    );
}
