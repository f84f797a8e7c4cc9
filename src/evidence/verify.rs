//! Checking a bundle's chain offline: every full entry's hash is recomputed
//! from its content and the hash before it, and every stub's (and the
//! gap's) of hash format 2 from its content digest and the hash before it,
//! so a rewrite anywhere changes every later hash up to the head; sequence
//! numbers run without a hole or repeat from the anchor to the head; hash
//! formats never go back from 2 to 1; and the first entry that fails is
//! named (altered, reordered, removed, inserted). A format 1 stub (an entry
//! written before store format 2) is taken as stated: a rewrite of the
//! entry just before it shows only against the store, a recorded head or a
//! signature (`docs/security.md`).

use super::bundle::{Body, ChainPoint, Record};
use crate::store::{chain_hash, entry_hash, AuditEntry, GENESIS, HASH_VERSION};

/// The first break found: which entry and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry #{seq}: {reason}")]
pub struct Broken {
    pub seq: u64,
    pub reason: String,
}

/// What an intact bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// Full entries (the pairing's).
    pub entries: usize,
    /// Entries of other pairings shown as stubs, and after the period as a gap.
    pub stubs: u64,
    /// Stubs and gap entries of hash format 1, whose hashes are taken as
    /// stated (not recomputed).
    pub unchecked: u64,
    pub anchor: ChainPoint,
    pub head: ChainPoint,
}

fn broken(seq: u64, reason: impl Into<String>) -> Broken {
    Broken {
        seq,
        reason: reason.into(),
    }
}

/// Checks the chain of `body` (see the module documentation).
pub fn verify_chain(body: &Body) -> Result<ChainSummary, Broken> {
    if body.anchor.seq == 0 && body.anchor.hash != GENESIS {
        return Err(broken(
            0,
            "the anchor before entry #1 must be the genesis hash",
        ));
    }
    let mut prev = body.anchor.clone();
    let mut entries = 0usize;
    let mut stubs = 0u64;
    let mut unchecked = 0u64;
    // The hash format seen last: a chain never goes back from 2 to 1.
    let mut version = 1u8;
    for (i, record) in body.records.iter().enumerate() {
        let seq = record.seq();
        let expected = prev.seq + 1;
        if seq != expected {
            return Err(out_of_sequence(&body.records[i..], expected, &prev));
        }
        match record {
            Record::Entry(e) => {
                if e.pairing.as_deref() != Some(body.pairing.as_str()) {
                    return Err(broken(
                        seq,
                        format!(
                            "is an entry of {:?}, not of pairing {:?}, yet carried in full",
                            e.pairing, body.pairing
                        ),
                    ));
                }
                if e.prev_hash != prev.hash {
                    return Err(broken(
                        seq,
                        format!(
                            "its previous-hash link does not match entry #{} (this entry was \
                             inserted or moved, or the one before it was altered)",
                            prev.seq
                        ),
                    ));
                }
                if e.v < version || e.v > HASH_VERSION {
                    return Err(broken(
                        seq,
                        format!(
                            "claims hash format {} after format {version} entries: the entry was rewritten",
                            e.v
                        ),
                    ));
                }
                version = e.v;
                if entry_hash(&AuditEntry::from(e)) != e.hash {
                    return Err(broken(
                        seq,
                        "its content does not match its hash: the entry was altered",
                    ));
                }
                entries += 1;
                prev = ChainPoint {
                    seq,
                    hash: e.hash.clone(),
                };
            }
            Record::Stub(stub) => {
                stubs += 1;
                match &stub.digest {
                    Some(digest) => {
                        if chain_hash(&prev.hash, digest) != stub.hash {
                            return Err(after_altered(&prev, seq, "entry"));
                        }
                        version = HASH_VERSION;
                    }
                    None if version >= 2 => {
                        return Err(broken(
                            seq,
                            format!("carries no content digest after format {version} entries: its hash cannot be checked (the bundle was altered)"),
                        ))
                    }
                    None => unchecked += 1,
                }
                prev = ChainPoint {
                    seq,
                    hash: stub.hash.clone(),
                };
            }
            Record::Gap {
                first,
                last,
                hash,
                digests,
            } => {
                if last < first {
                    return Err(broken(
                        *first,
                        format!("a gap from #{first} to #{last} runs backwards"),
                    ));
                }
                let count = last - first + 1;
                stubs += count;
                if digests.is_empty() {
                    if version >= 2 {
                        return Err(broken(
                            *first,
                            format!("the entries after the period carry no content digests after format {version} entries (the bundle was altered)"),
                        ));
                    }
                    unchecked += count;
                } else {
                    if digests.len() as u64 != count {
                        return Err(broken(
                            *first,
                            format!(
                                "the gap #{first}..#{last} carries {} digests for {count} entries",
                                digests.len()
                            ),
                        ));
                    }
                    let end = digests
                        .iter()
                        .fold(prev.hash.clone(), |h, d| chain_hash(&h, d));
                    if &end != hash {
                        return Err(after_altered(
                            &prev,
                            *first,
                            "entries after the period (gap)",
                        ));
                    }
                    version = HASH_VERSION;
                }
                prev = ChainPoint {
                    seq: *last,
                    hash: hash.clone(),
                };
            }
        }
    }
    if prev != body.head {
        let reason = if prev.seq < body.head.seq {
            format!(
                "the bundle ends at #{} but the chain head it records is #{}: entries were removed",
                prev.seq, body.head.seq
            )
        } else if prev.seq > body.head.seq {
            format!(
                "the bundle runs to #{} past the chain head it records (#{})",
                prev.seq, body.head.seq
            )
        } else {
            "the last entry's hash is not the chain head's hash".to_string()
        };
        return Err(broken(body.head.seq.max(prev.seq), reason));
    }
    Ok(ChainSummary {
        entries,
        stubs,
        unchecked,
        anchor: body.anchor.clone(),
        head: body.head.clone(),
    })
}

/// A format 2 stub (or gap) whose hash does not follow from `prev`: the
/// entry before it (named) was altered, or the stub itself.
fn after_altered(prev: &ChainPoint, seq: u64, what: &str) -> Broken {
    broken(
        prev.seq,
        format!(
            "the hash of the next {what} (#{seq}, carried as a digest) does not follow from this \
             entry's: this entry was altered (or its hash recomputed), or #{seq} was"
        ),
    )
}

/// Names the break when `rest[0]` is not entry `expected`.
fn out_of_sequence(rest: &[Record], expected: u64, prev: &ChainPoint) -> Broken {
    let found = rest[0].seq();
    if found <= prev.seq {
        return broken(
            found,
            format!(
                "appears again after #{}: an entry was inserted or repeated",
                prev.seq
            ),
        );
    }
    if rest.iter().any(|r| r.seq() == expected) {
        return broken(
            expected,
            format!("comes after #{found}: the entries were reordered"),
        );
    }
    broken(
        expected,
        format!(
            "is missing (#{} is followed by #{found}): an entry was removed",
            prev.seq
        ),
    )
}

/// Compares a bundle with the chain it claims to be cut from (`chain`:
/// every entry, oldest first, as the store holds it now): the anchor, each
/// full entry (every field), each stub's and the gap's hash, and the head
/// must be the store's at the same numbers. This is what makes an unsigned
/// bundle evidence for whoever can read the store (see `docs/security.md`).
pub fn compare_with_chain(body: &Body, chain: &[AuditEntry]) -> Result<(), Broken> {
    let stored = |seq: u64| -> Result<Option<&AuditEntry>, Broken> {
        if seq == 0 {
            return Ok(None);
        }
        let found = usize::try_from(seq - 1).ok().and_then(|i| chain.get(i));
        match found {
            Some(e) if e.seq == seq => Ok(Some(e)),
            _ => Err(broken(seq, "is not in the store's chain")),
        }
    };
    let same_hash = |point: &ChainPoint, what: &str| -> Result<(), Broken> {
        let hash = stored(point.seq)?.map_or(GENESIS, |e| e.hash.as_str());
        if hash == point.hash {
            Ok(())
        } else {
            Err(broken(
                point.seq,
                format!("the bundle's {what} hash differs from the store's"),
            ))
        }
    };
    same_hash(&body.anchor, "anchor")?;
    for record in &body.records {
        match record {
            Record::Entry(e) => {
                if stored(e.seq)? != Some(&AuditEntry::from(e)) {
                    return Err(broken(e.seq, "differs from the store's entry"));
                }
            }
            Record::Stub(stub) => {
                same_hash(
                    &ChainPoint {
                        seq: stub.seq,
                        hash: stub.hash.clone(),
                    },
                    "stub",
                )?;
                let stored_digest = stored(stub.seq)?
                    .filter(|e| e.v >= 2)
                    .map(crate::store::content_digest);
                if stub.digest != stored_digest {
                    return Err(broken(
                        stub.seq,
                        "the bundle's stub digest differs from the store's entry",
                    ));
                }
            }
            Record::Gap { last, hash, .. } => same_hash(
                &ChainPoint {
                    seq: *last,
                    hash: hash.clone(),
                },
                "gap",
            )?,
        }
    }
    same_hash(&body.head, "head")
}
