//! `verify` (stellar/go's `VerifyEvents`): for every transaction, the
//! balance changes its events imply must equal the balance changes in its
//! ledger entries (fee, transaction, operation and post-apply changes).
//! Contract holders and tokens without an asset are outside both sides.

use std::collections::{BTreeMap, HashMap};

use super::changes;
use super::event::{EventKind, TtpEvent};
use crate::stellar::address::{self, Strkey};
use crate::stellar::ledger::LedgerView;

/// Checks `events` (all of one ledger, unfiltered) against the ledger.
pub fn verify(view: &LedgerView<'_>, events: &[TtpEvent]) -> Result<(), String> {
    let mut by_tx: HashMap<[u8; 32], Vec<&TtpEvent>> = HashMap::new();
    for event in events {
        by_tx.entry(event.tx_hash).or_default().push(event);
    }
    for tx in view.transactions() {
        let hash = tx.result.transaction_hash.0;
        let implied = implied_deltas(by_tx.get(&hash).map(Vec::as_slice).unwrap_or_default());
        let mut lists = vec![tx.fee_processing];
        lists.extend(changes::all_changes(tx.meta));
        lists.extend(tx.post_apply_fee_processing);
        let actual: BTreeMap<(String, String), i128> = changes::balance_deltas(lists)
            .into_iter()
            .filter(|((holder, _), _)| !holder.starts_with('C'))
            .collect();
        if implied != actual {
            let mut keys: Vec<&(String, String)> = implied.keys().chain(actual.keys()).collect();
            keys.sort();
            keys.dedup();
            let diffs: Vec<String> = keys
                .into_iter()
                .filter(|k| implied.get(*k) != actual.get(*k))
                .take(6)
                .map(|(holder, asset)| {
                    let key = (holder.clone(), asset.clone());
                    format!(
                        "{holder} {asset}: events {} vs entries {}",
                        implied.get(&key).copied().unwrap_or(0),
                        actual.get(&key).copied().unwrap_or(0)
                    )
                })
                .collect();
            return Err(format!(
                "ledger {} tx {}: events disagree with balance changes: {}",
                view.sequence(),
                hex::encode(hash),
                diffs.join("; ")
            ));
        }
    }
    Ok(())
}

/// Balance changes implied by events: fee = −from; transfer = −from, +to;
/// mint = +to; burn and clawback = −from.
/// Keyed by (holder, SEP-11 asset); contract holders and events without an
/// asset are left out, zero nets dropped. Amounts are i128 throughout: a
/// token's supply may exceed i64 (stellar/go issue 5929).
pub fn implied_deltas(events: &[&TtpEvent]) -> BTreeMap<(String, String), i128> {
    let mut out: BTreeMap<(String, String), i128> = BTreeMap::new();
    for event in events {
        let Some(asset) = &event.asset else { continue };
        let asset = address::asset_string(asset);
        let mut add = |holder: &Option<Strkey>, amount: i128| {
            if let Some(holder) = holder.as_deref().map(account_of) {
                if !holder.starts_with('C') {
                    *out.entry((holder, asset.clone())).or_default() += amount;
                }
            }
        };
        match event.kind {
            EventKind::Fee | EventKind::Burn | EventKind::Clawback => {
                add(&event.from, -event.amount)
            }
            EventKind::Mint => add(&event.to, event.amount),
            EventKind::Transfer => {
                add(&event.from, -event.amount);
                add(&event.to, event.amount);
            }
        }
    }
    out.retain(|_, v| *v != 0);
    out
}

/// Balances live on the G account behind an M address.
fn account_of(holder: &str) -> String {
    if holder.starts_with('M') {
        if let Ok(muxed) = holder.parse::<stellar_xdr::MuxedAccount>() {
            return address::demux(&muxed).0.to_string();
        }
    }
    holder.to_string()
}
