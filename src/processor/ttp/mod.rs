//! Token Transfer Protocol events with the semantics of stellar/go's
//! `processors/token_transfer`: unified mode (CAP-67 events in TxMeta V4)
//! and derived mode (from operations, results and entry changes), the
//! reference event order, and `verify`, its balance-reconciliation oracle.

pub mod changes;
pub mod contract_events;
pub mod derived;
mod differential;
mod event;
pub mod unified;
pub mod verify;

pub use differential::{compare_decoders, Agreement};
pub use event::{EventKind, Movement, MuxedInfo, TtpEvent};

use stellar_xdr::LedgerCloseMeta;

use crate::stellar::ledger::LedgerView;
use crate::stellar::walk::LedgerIndex;
use crate::stellar::{DecodeError, Network};

/// How events are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Unified when every transaction has V4 meta, derived otherwise.
    Auto,
    /// CAP-67 events only.
    Unified,
    /// Derived from operations.
    Derived,
}

/// Why a ledger's events could not be produced.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TtpError {
    /// A problem with the ledger as a whole.
    #[error("ledger {ledger}: {detail}")]
    Ledger {
        /// The ledger.
        ledger: u32,
        /// What is wrong.
        detail: String,
    },
    /// A problem with one transaction.
    #[error("ledger {ledger} tx {tx_hash}: {detail}")]
    Tx {
        /// The ledger.
        ledger: u32,
        /// The transaction hash, hex.
        tx_hash: String,
        /// What is wrong.
        detail: String,
    },
}

/// The movements of one transaction, before ordering.
pub struct TxEvents {
    /// Result hash.
    pub hash: [u8; 32],
    /// 1-based apply-order index.
    pub index: u32,
    /// Whether it succeeded.
    pub successful: bool,
    /// The fee charge.
    pub charge: Movement,
    /// The fee refund (negative), if any.
    pub refund: Option<Movement>,
    /// (1-based operation index, movements).
    pub ops: Vec<(u32, Vec<Movement>)>,
}

/// The mode `mode` resolves to for this ledger.
pub(crate) fn resolve(view: &LedgerView<'_>, mode: Mode) -> Mode {
    match mode {
        Mode::Auto if unified::is_unified(view) => Mode::Unified,
        Mode::Auto => Mode::Derived,
        other => other,
    }
}

/// Every token-transfer event of a ledger, in the reference order: all fee
/// charges first, then each transaction's operation events; refunds follow
/// their transaction before protocol 23 and come last from 23 on.
///
/// This is the reference path, over a fully decoded ledger; [`Extractor`]
/// gives the same events from the XDR bytes read in place.
pub fn extract(
    meta: &LedgerCloseMeta,
    network: &Network,
    mode: Mode,
) -> Result<Vec<TtpEvent>, TtpError> {
    let view = LedgerView::new(meta);
    let txs = match resolve(&view, mode) {
        Mode::Unified => unified::transactions(&view, network)?,
        _ => derived::transactions(&view, network)?,
    };
    let header = view.header();
    Ok(order(
        header.ledger_seq,
        header.scp_value.close_time.0,
        header.ledger_version,
        txs,
    ))
}

/// Which decoder extraction reads ledgers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoder {
    /// Read the XDR in place and decode only what the rules use.
    #[default]
    Fast,
    /// Decode every ledger fully with `stellar-xdr` (the reference).
    Reference,
}

impl Decoder {
    /// `fast` or `reference`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decoder::Fast => "fast",
            Decoder::Reference => "reference",
        }
    }
}

/// Why a ledger's bytes gave no events.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExtractError {
    /// The XDR is invalid.
    #[error(transparent)]
    Xdr(#[from] DecodeError),
    /// The ledger decodes but breaks a token-transfer rule.
    #[error(transparent)]
    Ttp(#[from] TtpError),
}

/// Extracts events from `LedgerCloseMeta` XDR with either decoder. Keeps
/// its index between ledgers, so one extractor per worker thread avoids
/// allocating per ledger.
#[derive(Debug, Default)]
pub struct Extractor {
    index: LedgerIndex,
    /// Where the XDR `index` was filled from lies (address and length), to
    /// know whether it describes a given ledger.
    indexed: (usize, usize),
}

impl Extractor {
    /// A new extractor.
    pub fn new() -> Self {
        Extractor::default()
    }

    /// The events of one ledger's XDR (which must be exactly one
    /// `LedgerCloseMeta`), with the mode it resolved to.
    pub fn extract(
        &mut self,
        xdr: &[u8],
        network: &Network,
        mode: Mode,
        decoder: Decoder,
        depth: u32,
    ) -> Result<(Vec<TtpEvent>, Mode), ExtractError> {
        match decoder {
            Decoder::Reference => {
                self.indexed = (0, 0);
                let meta = crate::stellar::decode_ledger(xdr, depth)?;
                let resolved = resolve(&LedgerView::new(&meta), mode);
                Ok((extract(&meta, network, resolved)?, resolved))
            }
            Decoder::Fast => {
                self.indexed = (0, 0);
                self.index.fill(xdr, depth).map_err(|e| DecodeError::Xdr {
                    ledger: None,
                    error: e.to_string(),
                })?;
                self.indexed = (xdr.as_ptr() as usize, xdr.len());
                let index = &self.index;
                let resolved = match mode {
                    Mode::Auto if index.txs.iter().all(|t| t.meta_version == 4) => Mode::Unified,
                    Mode::Auto => Mode::Derived,
                    other => other,
                };
                let txs = match resolved {
                    Mode::Unified => unified::transactions_fast(index, xdr, network)?,
                    _ => derived::transactions_fast(index, xdr, network)?,
                };
                let header = &index.header;
                let events = order(
                    header.ledger_seq,
                    header.close_time,
                    header.ledger_version,
                    txs,
                );
                Ok((events, resolved))
            }
        }
    }
}

impl Extractor {
    /// The sequence in the header of the ledger `xdr`, after checking the
    /// header's hash: from the index when this extractor just walked the
    /// same bytes, else from a walk of its own.
    pub(crate) fn checked_sequence(&self, xdr: &[u8], depth: u32) -> Result<u32, String> {
        let summary = if self.indexed == (xdr.as_ptr() as usize, xdr.len()) {
            crate::stellar::LedgerSummary::from_index(&self.index, xdr)?
        } else {
            crate::stellar::LedgerSummary::from_xdr(xdr, depth)?
        };
        Ok(summary.sequence)
    }
}

fn order(ledger: u32, closed_at: u64, protocol: u32, txs: Vec<TxEvents>) -> Vec<TtpEvent> {
    let refunds_last = protocol >= 23;
    let total = txs
        .iter()
        .map(|t| {
            1 + usize::from(t.refund.is_some()) + t.ops.iter().map(|(_, m)| m.len()).sum::<usize>()
        })
        .sum();
    // The position counts events of the same (transaction, operation); fee
    // events share operation 0, so a refund is position 1 after its charge.
    let event = |tx: &TxHead, op: Option<u32>, position: u32, m: Movement| TtpEvent {
        ledger_sequence: ledger,
        closed_at,
        tx_hash: tx.hash,
        transaction_index: tx.index,
        operation_index: op,
        kind: m.kind,
        from: m.from,
        to: m.to,
        asset: m.asset,
        amount: m.amount,
        contract_address: m.contract_address,
        to_muxed: m.to_muxed,
        successful: tx.successful,
        position,
    };
    let mut out = Vec::with_capacity(total);
    let mut rest = Vec::with_capacity(txs.len());
    for tx in txs {
        let head = TxHead {
            hash: tx.hash,
            index: tx.index,
            successful: tx.successful,
        };
        out.push(event(&head, None, 0, tx.charge));
        rest.push((head, tx.ops, tx.refund));
    }
    let mut refunds = Vec::new();
    for (head, ops, refund) in rest {
        for (op, movements) in ops {
            for (position, m) in movements.into_iter().enumerate() {
                out.push(event(&head, Some(op), position as u32, m));
            }
        }
        if let Some(refund) = refund {
            if refunds_last {
                refunds.push((head, refund));
            } else {
                out.push(event(&head, None, 1, refund));
            }
        }
    }
    for (head, refund) in refunds {
        out.push(event(&head, None, 1, refund));
    }
    out
}

/// What every event of a transaction shares.
struct TxHead {
    hash: [u8; 32],
    index: u32,
    successful: bool,
}
