//! Unified mode: the CAP-67 events core writes into `TransactionMeta` V4 —
//! fee events from the transaction's event list (a charge, and a refund),
//! and SEP-41 token events from each operation's event list.

use stellar_xdr::{ContractEvent, ContractEventBody, ContractEventType, ScVal, TransactionMeta};

use super::contract_events::{self, i128_of, Shape};
use super::event::{EventKind, Movement};
use super::{TtpError, TxEvents};
use crate::stellar::address;
use crate::stellar::ledger::{is_success, LedgerView};
use crate::stellar::Network;

/// Whether every transaction of the ledger carries V4 meta.
pub fn is_unified(view: &LedgerView<'_>) -> bool {
    view.transactions()
        .iter()
        .all(|t| matches!(t.meta, TransactionMeta::V4(_)))
}

fn fee_movement(event: &ContractEvent, native_sac: &[u8; 32]) -> Result<Option<Movement>, String> {
    let ContractEventBody::V0(body) = &event.body;
    let Some(ScVal::Symbol(name)) = body.topics.first() else {
        return Ok(None);
    };
    if name.0.as_slice() != b"fee" {
        return Ok(None);
    }
    if event.type_ != ContractEventType::Contract {
        return Err("a fee event is not of type CONTRACT".into());
    }
    let contract = event
        .contract_id
        .as_ref()
        .ok_or("a fee event has no contract id")?
        .0
         .0;
    if &contract != native_sac {
        return Err(format!(
            "a fee event comes from {} instead of the native asset contract {}",
            address::contract(&contract),
            address::contract(native_sac)
        ));
    }
    if body.topics.len() != 2 {
        return Err(format!(
            "a fee event has {} topics instead of 2",
            body.topics.len()
        ));
    }
    let ScVal::Address(payer) = &body.topics[1] else {
        return Err("a fee event's second topic is not an address".into());
    };
    let amount = i128_of(&body.data).ok_or("a fee event's data is not an i128")?;
    Ok(Some(Movement {
        kind: EventKind::Fee,
        from: Some(payer.to_string()),
        to: None,
        asset: Some(stellar_xdr::Asset::Native),
        amount,
        contract_address: address::contract(&contract),
        to_muxed: None,
    }))
}

/// Events of every transaction, from CAP-67 events.
pub fn transactions(view: &LedgerView<'_>, network: &Network) -> Result<Vec<TxEvents>, TtpError> {
    let native_sac = address::sac_contract_id(&stellar_xdr::Asset::Native, &network.id);
    let ledger = view.sequence();
    let mut out = Vec::new();
    for tx in view.transactions() {
        let hash = tx.result.transaction_hash.0;
        let fail = |detail: String| TtpError::Tx {
            ledger,
            tx_hash: hex::encode(hash),
            detail,
        };
        let TransactionMeta::V4(meta) = tx.meta else {
            let version = match tx.meta {
                TransactionMeta::V0(_) => 0,
                TransactionMeta::V1(_) => 1,
                TransactionMeta::V2(_) => 2,
                TransactionMeta::V3(_) => 3,
                TransactionMeta::V4(_) => 4,
            };
            return Err(fail(format!("TransactionMeta is V{version}; unified mode expected 4 (use --mode derived or auto)")));
        };
        let mut fees = Vec::new();
        for event in meta.events.iter() {
            if let Some(fee) = fee_movement(&event.event, &native_sac).map_err(&fail)? {
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
        let ops = meta
            .operations
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let movements = op
                    .events
                    .iter()
                    .filter_map(|e| contract_events::parse(e, Shape::V4, &network.id))
                    .collect();
                (i as u32 + 1, movements)
            })
            .collect();
        out.push(TxEvents {
            hash,
            index: tx.index as u32 + 1,
            successful: is_success(&tx.result.result),
            charge,
            refund,
            ops,
        });
    }
    Ok(out)
}
