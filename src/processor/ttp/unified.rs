//! Unified mode: the CAP-67 events core writes into `TransactionMeta` V4 —
//! fee events from the transaction's event list (a charge, and a refund),
//! and SEP-41 token events from each operation's event list. The rules
//! run over decoded `stellar-xdr` values (the reference) or over the
//! zero-copy index and views (the fast path).

use stellar_xdr::TransactionMeta;

use super::contract_events::{self, Event, Shape, Value};
use super::event::{EventKind, Movement};
use super::{TtpError, TxEvents};
use crate::stellar::address;
use crate::stellar::ledger::{is_success, LedgerView};
use crate::stellar::walk::{ContractEventRef, LedgerIndex};
use crate::stellar::Network;

/// Whether every transaction of the ledger carries V4 meta.
pub fn is_unified(view: &LedgerView<'_>) -> bool {
    view.transactions()
        .iter()
        .all(|t| matches!(t.meta, TransactionMeta::V4(_)))
}

/// A transaction-level event as a fee movement: `None` when it is not a
/// fee event, an error when it is a malformed one. As in stellar/go, every
/// transaction-level event must be a contract event with a contract id
/// (only fees are emitted there today; anything else means the meta is not
/// what the rules know).
fn fee_movement<'a, E: Event<'a>>(
    event: &E,
    native_sac: &[u8; 32],
) -> Result<Option<Movement>, String> {
    let Some(contract) = event.contract_id().filter(|_| event.is_contract()) else {
        return Err("a transaction-level event is not a CONTRACT event with a contract id".into());
    };
    let Some(name) = event.topic(0).and_then(Value::symbol) else {
        return Ok(None);
    };
    if name != b"fee" {
        return Ok(None);
    }
    if event.topic_count() != 2 {
        return Err(format!(
            "a fee event has {} topics instead of 2",
            event.topic_count()
        ));
    }
    let amount = event
        .data()
        .i128()
        .ok_or("a fee event's data is not an i128")?;
    let payer = event
        .topic(1)
        .and_then(Value::address)
        .ok_or("a fee event's second topic is not an address")?;
    if &contract != native_sac {
        return Err(format!(
            "a fee event comes from {} instead of the native asset contract {}",
            address::contract(&contract),
            address::contract(native_sac)
        ));
    }
    Ok(Some(Movement {
        kind: EventKind::Fee,
        from: Some(payer),
        to: None,
        asset: Some(stellar_xdr::Asset::Native),
        amount,
        contract_address: address::contract(&contract),
        to_muxed: None,
    }))
}

/// One transaction's events from its fee events and per-operation events
/// (each read as it is reached; reading one may fail on the fast path).
#[allow(clippy::too_many_arguments)]
fn tx_events<'a, E, Ops, OpEvents>(
    hash: [u8; 32],
    index: usize,
    successful: bool,
    fee_events: impl Iterator<Item = Result<E, TtpError>>,
    op_events: Ops,
    network: &Network,
    native_sac: &[u8; 32],
    ledger: u32,
) -> Result<TxEvents, TtpError>
where
    E: Event<'a>,
    Ops: Iterator<Item = OpEvents>,
    OpEvents: Iterator<Item = Result<E, TtpError>>,
{
    let fail = |detail: String| TtpError::Tx {
        ledger,
        tx_hash: hex::encode(hash),
        detail,
    };
    let mut fees = Vec::with_capacity(2);
    for event in fee_events {
        if let Some(fee) = fee_movement(&event?, native_sac).map_err(&fail)? {
            fees.push(fee);
        }
    }
    if fees.is_empty() || fees.len() > 2 {
        return Err(fail(format!(
            "{} fee events; a transaction has one charge and at most one refund",
            fees.len()
        )));
    }
    let refund = if fees.len() == 2 { fees.pop() } else { None };
    let charge = fees.pop().ok_or_else(|| fail("no fee charge".into()))?;
    let mut ops = Vec::new();
    for (i, events) in op_events.enumerate() {
        let mut movements = Vec::new();
        for event in events {
            if let Some(m) = contract_events::parse(event?, Shape::V4, &network.id) {
                movements.push(m);
            }
        }
        ops.push((i as u32 + 1, movements));
    }
    Ok(TxEvents {
        hash,
        index: index as u32 + 1,
        successful,
        charge,
        refund,
        ops,
    })
}

fn not_v4(ledger: u32, hash: [u8; 32], version: i32) -> TtpError {
    TtpError::Tx {
        ledger,
        tx_hash: hex::encode(hash),
        detail: format!(
            "TransactionMeta is V{version}; unified mode expected 4 (use --mode derived or auto)"
        ),
    }
}

/// Events of every transaction, from CAP-67 events (reference path).
pub fn transactions(view: &LedgerView<'_>, network: &Network) -> Result<Vec<TxEvents>, TtpError> {
    let native_sac = address::sac_contract_id(&stellar_xdr::Asset::Native, &network.id);
    let ledger = view.sequence();
    let mut out = Vec::new();
    for tx in view.transactions() {
        let hash = tx.result.transaction_hash.0;
        let TransactionMeta::V4(meta) = tx.meta else {
            let version = match tx.meta {
                TransactionMeta::V0(_) => 0,
                TransactionMeta::V1(_) => 1,
                TransactionMeta::V2(_) => 2,
                TransactionMeta::V3(_) => 3,
                TransactionMeta::V4(_) => 4,
            };
            return Err(not_v4(ledger, hash, version));
        };
        out.push(tx_events(
            hash,
            tx.index,
            is_success(&tx.result.result),
            meta.events.iter().map(|e| Ok(&e.event)),
            meta.operations.iter().map(|op| op.events.iter().map(Ok)),
            network,
            &native_sac,
            ledger,
        )?);
    }
    Ok(out)
}

/// Events of every transaction, from CAP-67 events read in place.
pub(crate) fn transactions_fast(
    index: &LedgerIndex,
    xdr: &[u8],
    network: &Network,
) -> Result<Vec<TxEvents>, TtpError> {
    let native_sac = address::sac_contract_id(&stellar_xdr::Asset::Native, &network.id);
    let ledger = index.header.ledger_seq;
    let view = |i: u32| -> Result<ContractEventRef<'_>, TtpError> {
        let span = index.events[i as usize].span;
        ContractEventRef::parse(span.of(xdr)).ok_or_else(|| TtpError::Ledger {
            ledger,
            detail: format!("unreadable contract event at byte {}", span.start),
        })
    };
    let mut out = Vec::with_capacity(index.txs.len());
    for (i, tx) in index.txs.iter().enumerate() {
        if tx.meta_version != 4 {
            return Err(not_v4(ledger, tx.hash, tx.meta_version));
        }
        let ops = &index.op_events[tx.ops.start as usize..tx.ops.end as usize];
        out.push(tx_events(
            tx.hash,
            i,
            tx.successful(),
            tx.tx_events.clone().map(view),
            ops.iter().map(|range| range.clone().map(view)),
            network,
            &native_sac,
            ledger,
        )?);
    }
    Ok(out)
}
