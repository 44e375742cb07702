//! Token Transfer Protocol events with the semantics of stellar/go's
//! `processors/token_transfer`: unified mode (CAP-67 events in TxMeta V4)
//! and derived mode (from operations, results and entry changes), the
//! reference event order, and `verify`, its balance-reconciliation oracle.

pub mod changes;
pub mod contract_events;
pub mod derived;
mod event;
pub mod unified;
pub mod verify;

pub use event::{EventKind, Movement, MuxedInfo, TtpEvent};

use std::collections::HashMap;

use stellar_xdr::LedgerCloseMeta;

use crate::stellar::ledger::LedgerView;
use crate::stellar::Network;

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

impl Mode {
    /// Parses `auto`, `unified` or `derived`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auto" => Some(Mode::Auto),
            "unified" => Some(Mode::Unified),
            "derived" => Some(Mode::Derived),
            _ => None,
        }
    }
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
pub fn resolve(view: &LedgerView<'_>, mode: Mode) -> Mode {
    match mode {
        Mode::Auto if unified::is_unified(view) => Mode::Unified,
        Mode::Auto => Mode::Derived,
        other => other,
    }
}

/// Every token-transfer event of a ledger, in the reference order: all fee
/// charges first, then each transaction's operation events; refunds follow
/// their transaction before protocol 23 and come last from 23 on.
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
    Ok(order(&view, txs))
}

fn order(view: &LedgerView<'_>, txs: Vec<TxEvents>) -> Vec<TtpEvent> {
    let ledger = view.sequence();
    let closed_at = view.close_time();
    let refunds_last = view.protocol_version() >= 23;
    let mut positions: HashMap<(u32, u32), u32> = HashMap::new();
    let mut place = |tx: &TxEvents, op: Option<u32>, m: &Movement| {
        let slot = positions.entry((tx.index, op.unwrap_or(0))).or_insert(0);
        let position = *slot;
        *slot += 1;
        TtpEvent {
            ledger_sequence: ledger,
            closed_at,
            tx_hash: tx.hash,
            transaction_index: tx.index,
            operation_index: op,
            kind: m.kind,
            from: m.from.clone(),
            to: m.to.clone(),
            asset: m.asset.clone(),
            amount: m.amount,
            contract_address: m.contract_address.clone(),
            to_muxed: m.to_muxed.clone(),
            successful: tx.successful,
            position,
        }
    };
    let mut out = Vec::new();
    for tx in &txs {
        out.push(place(tx, None, &tx.charge));
    }
    for tx in &txs {
        for (op, movements) in &tx.ops {
            for m in movements {
                out.push(place(tx, Some(*op), m));
            }
        }
        if !refunds_last {
            if let Some(refund) = &tx.refund {
                out.push(place(tx, None, refund));
            }
        }
    }
    if refunds_last {
        for tx in &txs {
            if let Some(refund) = &tx.refund {
                out.push(place(tx, None, refund));
            }
        }
    }
    out
}
