//! A uniform view over `LedgerCloseMeta` V0, V1 and V2 (header, tx set,
//! apply-order results and meta), and the per-ledger summary the source
//! serves in its `stellar_ledger` rows.

use sha2::{Digest, Sha256};
use stellar_xdr::{
    GeneralizedTransactionSet, LedgerCloseMeta, LedgerEntryChanges, LedgerHeader,
    LedgerHeaderHistoryEntry, Limits, ReadXdr, TransactionEnvelope, TransactionMeta,
    TransactionPhase, TransactionResult, TransactionResultPair, TransactionResultResult,
    TxSetComponent, WriteXdr,
};

use super::walk::LedgerIndex;

/// One transaction as applied: its result, fee changes and meta.
#[derive(Debug, Clone, Copy)]
pub struct TxApply<'a> {
    /// 0-based position in apply order (`tx_processing`).
    pub index: usize,
    /// Hash and result.
    pub result: &'a TransactionResultPair,
    /// Fee charge changes (before any tx applies).
    pub fee_processing: &'a LedgerEntryChanges,
    /// The transaction's meta.
    pub meta: &'a TransactionMeta,
    /// Fee refund changes after all txs (LCM V2, protocol 23+).
    pub post_apply_fee_processing: Option<&'a LedgerEntryChanges>,
}

/// Read access to any `LedgerCloseMeta` version.
#[derive(Debug, Clone, Copy)]
pub struct LedgerView<'a> {
    meta: &'a LedgerCloseMeta,
}

impl<'a> LedgerView<'a> {
    /// A view of `meta`.
    pub fn new(meta: &'a LedgerCloseMeta) -> Self {
        LedgerView { meta }
    }

    /// The header with its stored hash.
    pub(crate) fn header_entry(&self) -> &'a LedgerHeaderHistoryEntry {
        match self.meta {
            LedgerCloseMeta::V0(m) => &m.ledger_header,
            LedgerCloseMeta::V1(m) => &m.ledger_header,
            LedgerCloseMeta::V2(m) => &m.ledger_header,
        }
    }

    /// The header.
    pub fn header(&self) -> &'a LedgerHeader {
        &self.header_entry().header
    }

    /// Ledger sequence.
    pub fn sequence(&self) -> u32 {
        self.header().ledger_seq
    }

    /// Close time, unix seconds.
    pub fn close_time(&self) -> u64 {
        self.header().scp_value.close_time.0
    }

    /// Protocol version.
    pub fn protocol_version(&self) -> u32 {
        self.header().ledger_version
    }

    /// Every envelope in the tx set, in tx-set order (which is not apply
    /// order: match them to results by hash).
    pub fn envelopes(&self) -> Vec<&'a TransactionEnvelope> {
        match self.meta {
            LedgerCloseMeta::V0(m) => m.tx_set.txs.iter().collect(),
            LedgerCloseMeta::V1(m) => generalized_envelopes(&m.tx_set),
            LedgerCloseMeta::V2(m) => generalized_envelopes(&m.tx_set),
        }
    }

    /// Transactions in apply order.
    pub fn transactions(&self) -> Vec<TxApply<'a>> {
        match self.meta {
            LedgerCloseMeta::V0(m) => m
                .tx_processing
                .iter()
                .enumerate()
                .map(|(index, t)| TxApply {
                    index,
                    result: &t.result,
                    fee_processing: &t.fee_processing,
                    meta: &t.tx_apply_processing,
                    post_apply_fee_processing: None,
                })
                .collect(),
            LedgerCloseMeta::V1(m) => m
                .tx_processing
                .iter()
                .enumerate()
                .map(|(index, t)| TxApply {
                    index,
                    result: &t.result,
                    fee_processing: &t.fee_processing,
                    meta: &t.tx_apply_processing,
                    post_apply_fee_processing: None,
                })
                .collect(),
            LedgerCloseMeta::V2(m) => m
                .tx_processing
                .iter()
                .enumerate()
                .map(|(index, t)| TxApply {
                    index,
                    result: &t.result,
                    fee_processing: &t.fee_processing,
                    meta: &t.tx_apply_processing,
                    post_apply_fee_processing: Some(&t.post_tx_apply_fee_processing),
                })
                .collect(),
        }
    }

    /// The raw meta.
    pub fn meta(&self) -> &'a LedgerCloseMeta {
        self.meta
    }
}

fn generalized_envelopes(set: &GeneralizedTransactionSet) -> Vec<&TransactionEnvelope> {
    let GeneralizedTransactionSet::V1(set) = set;
    let mut out = Vec::new();
    for phase in set.phases.iter() {
        match phase {
            TransactionPhase::V0(components) => {
                for component in components.iter() {
                    let TxSetComponent::TxsetCompTxsMaybeDiscountedFee(c) = component;
                    out.extend(c.txs.iter());
                }
            }
            TransactionPhase::V1(parallel) => {
                for stage in parallel.execution_stages.iter() {
                    for cluster in stage.0.iter() {
                        out.extend(cluster.0.iter());
                    }
                }
            }
        }
    }
    out
}

/// sha256 of the header's XDR: the ledger hash.
pub fn header_hash(header: &LedgerHeader) -> [u8; 32] {
    let xdr = header.to_xdr(Limits::none()).unwrap_or_default();
    Sha256::digest(&xdr).into()
}

/// Whether a transaction succeeded (`txSUCCESS` or `txFEE_BUMP_INNER_SUCCESS`).
pub(crate) fn is_success(result: &TransactionResult) -> bool {
    matches!(
        result.result,
        TransactionResultResult::TxSuccess(_) | TransactionResultResult::TxFeeBumpInnerSuccess(_)
    )
}

/// Number of operations in an envelope (the inner tx's for a fee bump).
pub(crate) fn operation_count(envelope: &TransactionEnvelope) -> usize {
    match envelope {
        TransactionEnvelope::TxV0(e) => e.tx.operations.len(),
        TransactionEnvelope::Tx(e) => e.tx.operations.len(),
        TransactionEnvelope::TxFeeBump(e) => {
            let stellar_xdr::FeeBumpTransactionInnerTx::Tx(inner) = &e.tx.inner_tx;
            inner.tx.operations.len()
        }
    }
}

/// The values of one `stellar_ledger` row (except the raw XDR).
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerSummary {
    /// Ledger sequence.
    pub sequence: u32,
    /// sha256 of the header XDR.
    pub hash: [u8; 32],
    /// The header's `previous_ledger_hash`.
    pub previous_hash: [u8; 32],
    /// Close time, unix seconds.
    pub close_time: u64,
    /// Protocol version.
    pub protocol_version: u32,
    /// Transactions applied.
    pub transaction_count: u32,
    /// Of which succeeded.
    pub successful_transaction_count: u32,
    /// Of which failed.
    pub failed_transaction_count: u32,
    /// Operations in the tx set.
    pub operation_count: u32,
    /// Σ fee_charged.
    pub total_fee_charged: i64,
    /// Header base fee.
    pub base_fee: u32,
    /// Header base reserve.
    pub base_reserve: u32,
    /// Header max tx set size.
    pub max_tx_set_size: u32,
}

impl LedgerSummary {
    /// Computes the summary from one `LedgerCloseMeta`'s XDR read in place
    /// (the source's path: no full decode). Same result as [`Self::of`]
    /// on the decoded ledger, and the same refusals.
    pub fn from_xdr(xdr: &[u8], depth: u32) -> Result<Self, String> {
        let index = LedgerIndex::build(xdr, depth).map_err(|e| {
            super::DecodeError::Xdr {
                ledger: None,
                error: e.to_string(),
            }
            .to_string()
        })?;
        Self::from_index(&index, xdr)
    }

    /// The summary of an indexed ledger whose bytes are `xdr`.
    pub(crate) fn from_index(index: &LedgerIndex, xdr: &[u8]) -> Result<Self, String> {
        let header = &index.header;
        let hash: [u8; 32] = if header.canonical {
            Sha256::digest(header.span.of(xdr)).into()
        } else {
            // Bytes `stellar-xdr` would write differently: hash what the
            // reference hashes, the re-encoded header.
            let decoded = LedgerHeader::from_xdr(
                header.span.of(xdr),
                Limits {
                    depth: header.span.depth,
                    len: xdr.len(),
                },
            )
            .map_err(|e| format!("ledger {}: {e}", header.ledger_seq))?;
            header_hash(&decoded)
        };
        if hash != header.stored_hash {
            return Err(hash_mismatch(header.ledger_seq, &header.stored_hash, &hash));
        }
        let txs = index.txs.len() as u32;
        let successful = index.txs.iter().filter(|t| t.successful()).count() as u32;
        Ok(LedgerSummary {
            sequence: header.ledger_seq,
            hash,
            previous_hash: header.previous_hash,
            close_time: header.close_time,
            protocol_version: header.ledger_version,
            transaction_count: txs,
            successful_transaction_count: successful,
            failed_transaction_count: txs - successful,
            operation_count: index
                .envelopes
                .iter()
                .map(|e| e.operations as usize)
                .sum::<usize>() as u32,
            total_fee_charged: index
                .txs
                .iter()
                .fold(0i64, |sum, t| sum.wrapping_add(t.fee_charged)),
            base_fee: header.base_fee,
            base_reserve: header.base_reserve,
            max_tx_set_size: header.max_tx_set_size,
        })
    }

    /// Computes the summary; fails when the stored header hash disagrees
    /// with the header (a corrupt or forged ledger).
    pub fn of(meta: &LedgerCloseMeta) -> Result<Self, String> {
        let view = LedgerView::new(meta);
        let header = view.header();
        let hash = header_hash(header);
        if hash != view.header_entry().hash.0 {
            return Err(hash_mismatch(
                header.ledger_seq,
                &view.header_entry().hash.0,
                &hash,
            ));
        }
        let txs = view.transactions();
        let successful = txs.iter().filter(|t| is_success(&t.result.result)).count() as u32;
        Ok(LedgerSummary {
            sequence: header.ledger_seq,
            hash,
            previous_hash: header.previous_ledger_hash.0,
            close_time: header.scp_value.close_time.0,
            protocol_version: header.ledger_version,
            transaction_count: txs.len() as u32,
            successful_transaction_count: successful,
            failed_transaction_count: txs.len() as u32 - successful,
            operation_count: view
                .envelopes()
                .into_iter()
                .map(operation_count)
                .sum::<usize>() as u32,
            // Wrapping: a forged ledger's fees must not panic the source.
            total_fee_charged: txs
                .iter()
                .fold(0i64, |sum, t| sum.wrapping_add(t.result.result.fee_charged)),
            base_fee: header.base_fee,
            base_reserve: header.base_reserve,
            max_tx_set_size: header.max_tx_set_size,
        })
    }
}

fn hash_mismatch(ledger: u32, stored: &[u8; 32], computed: &[u8; 32]) -> String {
    format!(
        "header hash mismatch in ledger {ledger}: stored {} but the header hashes to {}",
        hex::encode(stored),
        hex::encode(computed)
    )
}
