//! `--kind contract-data`: every Soroban contract-data entry a ledger
//! creates, updates, removes or restores, with key and value as base64 XDR.

use stellar_xdr::{
    ContractDataDurability, LedgerCloseMeta, LedgerEntryChange, LedgerEntryData, LedgerKey, Limits,
    WriteXdr,
};

use super::batches::ContractDataChange;
use super::ttp::changes::labeled_changes;
use crate::stellar::ledger::{is_success, LedgerView};

fn durability(d: &ContractDataDurability) -> &'static str {
    match d {
        ContractDataDurability::Temporary => "temporary",
        ContractDataDurability::Persistent => "persistent",
    }
}

fn base64<T: WriteXdr>(value: &T) -> String {
    value.to_xdr_base64(Limits::none()).unwrap_or_default()
}

/// The contract-data changes of a ledger, in apply order.
pub fn extract(meta: &LedgerCloseMeta) -> Vec<ContractDataChange> {
    let view = LedgerView::new(meta);
    let mut out = Vec::new();
    for tx in view.transactions() {
        let successful = is_success(&tx.result.result);
        let mut position = 0;
        for (operation_index, list) in labeled_changes(tx.meta) {
            for change in list.0.iter() {
                let (change_type, contract, key, value, dur) = match change {
                    LedgerEntryChange::Created(e)
                    | LedgerEntryChange::Updated(e)
                    | LedgerEntryChange::Restored(e) => {
                        let LedgerEntryData::ContractData(d) = &e.data else {
                            continue;
                        };
                        let kind = match change {
                            LedgerEntryChange::Created(_) => "created",
                            LedgerEntryChange::Updated(_) => "updated",
                            _ => "restored",
                        };
                        (
                            kind,
                            d.contract.to_string(),
                            base64(&d.key),
                            Some(base64(&d.val)),
                            durability(&d.durability),
                        )
                    }
                    LedgerEntryChange::Removed(LedgerKey::ContractData(k)) => (
                        "removed",
                        k.contract.to_string(),
                        base64(&k.key),
                        None,
                        durability(&k.durability),
                    ),
                    _ => continue,
                };
                out.push(ContractDataChange {
                    ledger_sequence: view.sequence(),
                    closed_at: view.close_time(),
                    tx_hash: tx.result.transaction_hash.0,
                    transaction_index: tx.index as u32 + 1,
                    operation_index,
                    position,
                    contract_id: contract,
                    key_xdr: key,
                    value_xdr: value,
                    durability: dur,
                    change_type,
                    successful,
                });
                position += 1;
            }
        }
    }
    out
}
