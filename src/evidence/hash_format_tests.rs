//! Hash formats 1 and 2 (`store::audit`): a store written before format 2
//! (its chain rewritten here as format 1 entries, as those builds wrote
//! them) still verifies, is re-stamped as store format 2 on open, and goes
//! on with format 2 entries; the mixed chain verifies in the store and in
//! bundles; a v2 stub's hash is recomputed (a rewrite before it is named),
//! a v1 stub's is taken as stated; going back from 2 to 1 is a break.

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use super::bundle::{build, Sides};
use super::*;
use crate::store::{
    entry_hash, AuditEntry, AuditRecord, Store, TreeName, VerifyReport, FORMAT_VERSION,
};

fn write(store: &Store, i: u64) {
    let at = Utc.with_ymd_and_hms(2026, 10, 31, 22, 0, 0).unwrap() + Duration::hours(i as i64);
    let pairing = if i % 2 == 0 { "acme" } else { "globex" };
    store
        .transact(|tx| {
            tx.audit(
                at,
                AuditRecord {
                    kind: "planned",
                    pairing: Some(pairing),
                    link: Some(1),
                    tickets: vec![format!("at:{i}")],
                    message: format!("{pairing} entry {i}"),
                    detail: json!({ "i": i }),
                },
            )
        })
        .unwrap();
}

/// Entries #1..=#6 as a build before store format 2 wrote them (format 1
/// hashes, no `v`, store stamped format 1); then reopened, #7..=#12 written
/// by this build. Odd entries are acme's, even ones globex's.
fn mixed_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    {
        let store = Store::open(&path).unwrap();
        for i in 0..6 {
            write(&store, i);
        }
        let mut prev = crate::store::GENESIS.to_string();
        for mut e in store.audit_entries().unwrap() {
            e.v = 1;
            e.prev_hash = prev;
            e.hash = entry_hash(&e);
            prev = e.hash.clone();
            let bytes = serde_json::to_vec(&e).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains("\"v\""));
            store
                .raw_audit_tree()
                .insert(e.seq.to_be_bytes(), bytes)
                .unwrap();
        }
        let meta = store.tree(TreeName::Meta);
        meta.insert(
            b"audit_head",
            serde_json::to_vec(&json!({ "seq": 6, "hash": prev })).unwrap(),
        )
        .unwrap();
        meta.insert(b"format_version", &b"1"[..]).unwrap();
        assert!(matches!(
            store.verify_audit().unwrap(),
            VerifyReport::Intact { entries: 6, .. }
        ));
    }
    let store = Store::open(&path).unwrap();
    let version: u64 = serde_json::from_slice(
        &store
            .tree(TreeName::Meta)
            .get(b"format_version")
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        version, FORMAT_VERSION,
        "re-stamped: an older build refuses it"
    );
    for i in 6..12 {
        write(&store, i);
    }
    (dir, store)
}

fn bundle_of(entries: &[AuditEntry], from_hour: i64, hours: i64) -> Body {
    let start = Utc.with_ymd_and_hms(2026, 10, 31, 22, 0, 0).unwrap() + Duration::hours(from_hour);
    build(
        entries,
        "acme",
        Sides {
            a: "at".into(),
            b: "cw".into(),
        },
        start,
        start + Duration::hours(hours),
        start + Duration::days(2),
    )
}

/// Rewrites full entry `seq` of `body` with its hash recomputed (what a
/// forger who knows the format does).
fn rewrite(body: &mut Body, seq: u64) {
    for record in &mut body.records {
        if let Record::Entry(e) = record {
            if e.seq == seq {
                e.message = "MSP answered within a minute".into();
                let mut stored = AuditEntry::from(&*e);
                stored.hash = entry_hash(&stored);
                e.hash = stored.hash;
                return;
            }
        }
    }
    panic!("no full entry #{seq}");
}

#[test]
fn old_chains_verify_and_mixed_chains_too() {
    let (_d, store) = mixed_store();
    let entries = store.audit_entries().unwrap();
    let versions: Vec<u8> = entries.iter().map(|e| e.v).collect();
    assert_eq!(versions, [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    assert_eq!(entries[6].prev_hash, entries[5].hash, "v2 chained to v1");
    assert!(matches!(
        store.verify_audit().unwrap(),
        VerifyReport::Intact { entries: 12, .. }
    ));

    // A bundle across the change (#3..#10, gap #11..#12): intact; the
    // globex stubs #4, #6 (format 1) are taken as stated, #8, #10 and the
    // gap are recomputed.
    let body = bundle_of(&entries, 2, 8);
    let summary = verify_chain(&body).unwrap();
    assert_eq!(
        (summary.entries, summary.stubs, summary.unchecked),
        (4, 6, 2)
    );
    compare_with_chain(&body, &entries).unwrap();
    // Written and read back (bundle format 2).
    let read = Bundle::parse("b", &Bundle::new(body.clone()).to_json().unwrap()).unwrap();
    assert_eq!(read.body, body);

    // Before the change, a v1 stub hides a rewrite of the entry before it
    // from the offline check (the store comparison and signatures see it).
    let mut old = body.clone();
    rewrite(&mut old, 5);
    assert!(verify_chain(&old).is_ok());
    assert_eq!(compare_with_chain(&old, &entries).unwrap_err().seq, 5);
    // After it, the v2 stub's recomputed hash names the rewritten entry.
    for seq in [7, 9] {
        let mut new = body.clone();
        rewrite(&mut new, seq);
        let err = verify_chain(&new).unwrap_err();
        assert_eq!(err.seq, seq, "{err}");
        assert!(err.reason.contains("altered"), "{err}");
    }
}

#[test]
fn going_back_to_format_1_is_a_break() {
    let (_d, store) = mixed_store();
    let entries = store.audit_entries().unwrap();
    // A v2 stub turned into a v1-style one (digest dropped) to hide a rewrite.
    let mut body = bundle_of(&entries, 2, 8);
    rewrite(&mut body, 9);
    for record in &mut body.records {
        if let Record::Stub(s) = record {
            if s.seq == 10 {
                s.digest = None;
            }
        }
    }
    let err = verify_chain(&body).unwrap_err();
    assert_eq!(err.seq, 10, "{err}");
    // The gap's digests dropped.
    let mut body = bundle_of(&entries, 2, 8);
    if let Some(Record::Gap { digests, .. }) = body.records.last_mut() {
        digests.clear();
    }
    let err = verify_chain(&body).unwrap_err();
    assert_eq!(err.seq, 11, "{err}");
    // A v2 entry claimed as v1 with a v1 hash.
    let mut body = bundle_of(&entries, 2, 8);
    for record in &mut body.records {
        if let Record::Entry(e) = record {
            if e.seq == 9 {
                e.v = 1;
                let mut stored = AuditEntry::from(&*e);
                stored.hash = entry_hash(&stored);
                e.hash = stored.hash;
            }
        }
    }
    let err = verify_chain(&body).unwrap_err();
    assert_eq!(err.seq, 9, "{err}");
    // In the store: a v1 entry after v2 ones.
    let tree = store.raw_audit_tree();
    let mut last: AuditEntry =
        serde_json::from_slice(&tree.get(12u64.to_be_bytes()).unwrap().unwrap()).unwrap();
    last.v = 1;
    last.hash = entry_hash(&last);
    tree.insert(12u64.to_be_bytes(), serde_json::to_vec(&last).unwrap())
        .unwrap();
    assert!(matches!(
        store.verify_audit().unwrap(),
        VerifyReport::Broken { seq: 12, .. }
    ));
}
