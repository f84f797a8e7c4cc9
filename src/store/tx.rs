//! Typed access to the trees inside one sled transaction, including the
//! hash-chained audit append (the chain head lives in `meta`, so appends
//! serialise through the transaction).

use psa_connector::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{
    ConflictableTransactionError, TransactionalTree, UnabortableTransactionError,
};

use super::audit::{entry_hash, GENESIS};
use super::{decode, AuditEntry, StoreError, TreeName};

const AUDIT_HEAD: &[u8] = b"audit_head";

/// Error inside a transaction: a sled conflict (retried) or an abort.
pub enum TxError {
    Sled(UnabortableTransactionError),
    Abort(StoreError),
}

impl From<UnabortableTransactionError> for TxError {
    fn from(e: UnabortableTransactionError) -> Self {
        TxError::Sled(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Abort(e)
    }
}

impl TxError {
    pub(super) fn into_sled(self) -> ConflictableTransactionError<StoreError> {
        match self {
            TxError::Sled(e) => e.into(),
            TxError::Abort(e) => ConflictableTransactionError::Abort(e),
        }
    }
}

/// What one audit entry records; the store adds sequence number and hashes.
pub struct AuditRecord<'a> {
    pub kind: &'a str,
    pub pairing: Option<&'a str>,
    pub link: Option<u64>,
    /// `connection:id` / `connection:number` keys of the tickets concerned.
    pub tickets: Vec<String>,
    /// What happened, in plain words.
    pub message: String,
    pub detail: serde_json::Value,
}

/// The head of the audit chain.
#[derive(Serialize, serde::Deserialize)]
struct AuditHead {
    seq: u64,
    hash: String,
}

/// One transaction's view of all trees.
pub struct Tx<'a> {
    trees: &'a [TransactionalTree],
}

impl<'a> Tx<'a> {
    pub(super) fn new(trees: &'a [TransactionalTree]) -> Self {
        Self { trees }
    }

    pub(super) fn tree(&self, name: TreeName) -> &TransactionalTree {
        &self.trees[name as usize]
    }

    /// Writes a record. Outbox operations go through [`Tx::put_op`] and
    /// notices through `Tx::put_inbox_item` / `Tx::put_dead_notice` instead
    /// (they keep their indexes); writing them here is refused.
    pub fn put<T: Serialize>(&self, name: TreeName, key: &[u8], value: &T) -> Result<(), TxError> {
        refuse_indexed(name)?;
        self.put_unchecked(name, key, value)
    }

    pub(super) fn put_unchecked<T: Serialize>(
        &self,
        name: TreeName,
        key: &[u8],
        value: &T,
    ) -> Result<(), TxError> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            TxError::Abort(StoreError::Aborted(format!("cannot encode record: {e}")))
        })?;
        self.tree(name).insert(key, bytes)?;
        Ok(())
    }

    pub fn get<T: DeserializeOwned>(
        &self,
        name: TreeName,
        key: &[u8],
    ) -> Result<Option<T>, TxError> {
        match self.tree(name).get(key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(decode(name, key, &bytes)?)),
        }
    }

    /// Removes a record. Outbox operations go through [`Tx::remove_op`],
    /// notices through `Tx::remove_inbox_item` / `Tx::remove_dead_notice`.
    pub fn remove(&self, name: TreeName, key: &[u8]) -> Result<(), TxError> {
        refuse_indexed(name)?;
        self.tree(name).remove(key)?;
        Ok(())
    }

    /// Appends an audit entry, chaining it to the previous one.
    pub fn audit(&self, at: Timestamp, record: AuditRecord<'_>) -> Result<(), TxError> {
        let head: Option<AuditHead> = self.get(TreeName::Meta, AUDIT_HEAD)?;
        let (seq, prev_hash) = match head {
            Some(h) => (h.seq + 1, h.hash),
            None => (1, GENESIS.to_string()),
        };
        let mut entry = AuditEntry {
            seq,
            at,
            kind: record.kind.to_string(),
            pairing: record.pairing.map(str::to_string),
            link: record.link,
            tickets: record.tickets,
            message: record.message,
            detail: record.detail,
            prev_hash,
            hash: String::new(),
            v: super::audit::HASH_VERSION,
        };
        entry.hash = entry_hash(&entry);
        self.put(TreeName::Audit, &seq.to_be_bytes(), &entry)?;
        self.put(
            TreeName::Meta,
            AUDIT_HEAD,
            &AuditHead {
                seq,
                hash: entry.hash.clone(),
            },
        )
    }
}

/// The outbox and its indexes change together, only through
/// [`Tx::put_op`] / [`Tx::remove_op`], and notices with their index only
/// through `Tx::put_inbox_item` and its siblings (`store::notices`), so no
/// caller can forget an index.
fn refuse_indexed(name: TreeName) -> Result<(), TxError> {
    let only = if name.is_outbox() {
        "Tx::put_op / Tx::remove_op"
    } else if matches!(
        name,
        TreeName::Inbox | TreeName::DeadNotices | TreeName::NoticeTickets
    ) {
        "Tx::put_inbox_item / Tx::put_dead_notice and their removals"
    } else {
        return Ok(());
    };
    Err(TxError::Abort(StoreError::Aborted(format!(
        "tree {name:?} is written with {only} only"
    ))))
}
