//! Reading ledger-entry changes: per-operation and per-transaction change
//! lists for every `TransactionMeta` version, balances held by an entry,
//! and the removed/created claimable balances and pool reserve moves the
//! derived rules need.

use std::collections::HashMap;

use stellar_xdr::{
    AccountId, Asset, ClaimableBalanceEntry, LedgerEntry, LedgerEntryChange, LedgerEntryChanges,
    LedgerEntryData, LedgerKey, LiquidityPoolEntryBody, PoolId, TransactionMeta, TrustLineAsset,
};

use crate::stellar::address;

/// The change list of operation `index`, for any meta version.
pub fn op_changes(meta: &TransactionMeta, index: usize) -> Option<&LedgerEntryChanges> {
    match meta {
        TransactionMeta::V0(ops) => ops.get(index).map(|o| &o.changes),
        TransactionMeta::V1(m) => m.operations.get(index).map(|o| &o.changes),
        TransactionMeta::V2(m) => m.operations.get(index).map(|o| &o.changes),
        TransactionMeta::V3(m) => m.operations.get(index).map(|o| &o.changes),
        TransactionMeta::V4(m) => m.operations.get(index).map(|o| &o.changes),
    }
}

/// `tx_changes_after` (where pre-23 Soroban refunds show), if the version
/// has it.
pub fn tx_changes_after(meta: &TransactionMeta) -> Option<&LedgerEntryChanges> {
    match meta {
        TransactionMeta::V2(m) => Some(&m.tx_changes_after),
        TransactionMeta::V3(m) => Some(&m.tx_changes_after),
        TransactionMeta::V4(m) => Some(&m.tx_changes_after),
        _ => None,
    }
}

/// Numbers operation change lists from 1.
fn ops(lists: Vec<&LedgerEntryChanges>) -> Vec<(Option<u32>, &LedgerEntryChanges)> {
    lists
        .into_iter()
        .enumerate()
        .map(|(i, c)| (Some(i as u32 + 1), c))
        .collect()
}

/// Every change list of the meta in order (before, operations, after),
/// each with its 1-based operation index (`None` for transaction level).
pub(crate) fn labeled_changes(meta: &TransactionMeta) -> Vec<(Option<u32>, &LedgerEntryChanges)> {
    let mut out = Vec::new();
    match meta {
        TransactionMeta::V0(list) => out.extend(ops(list.iter().map(|o| &o.changes).collect())),
        TransactionMeta::V1(m) => {
            out.push((None, &m.tx_changes));
            out.extend(ops(m.operations.iter().map(|o| &o.changes).collect()));
        }
        TransactionMeta::V2(m) => {
            out.push((None, &m.tx_changes_before));
            out.extend(ops(m.operations.iter().map(|o| &o.changes).collect()));
            out.push((None, &m.tx_changes_after));
        }
        TransactionMeta::V3(m) => {
            out.push((None, &m.tx_changes_before));
            out.extend(ops(m.operations.iter().map(|o| &o.changes).collect()));
            out.push((None, &m.tx_changes_after));
        }
        TransactionMeta::V4(m) => {
            out.push((None, &m.tx_changes_before));
            out.extend(ops(m.operations.iter().map(|o| &o.changes).collect()));
            out.push((None, &m.tx_changes_after));
        }
    }
    out
}

/// Every change list of the meta in order: before, operations, after.
pub(crate) fn all_changes(meta: &TransactionMeta) -> Vec<&LedgerEntryChanges> {
    labeled_changes(meta).into_iter().map(|(_, c)| c).collect()
}

/// A balance an entry holds: ((holder strkey, SEP-11 asset), amount).
pub(crate) type Holding = ((String, String), i128);

/// What an entry holds. Pool-share trustlines and entries without value
/// (offers, data, contract data) hold nothing here.
pub(crate) fn holdings(entry: &LedgerEntry) -> Vec<Holding> {
    match &entry.data {
        LedgerEntryData::Account(a) => vec![(
            (a.account_id.to_string(), "native".into()),
            i128::from(a.balance),
        )],
        LedgerEntryData::Trustline(t) => {
            let asset = match &t.asset {
                TrustLineAsset::Native => Asset::Native,
                TrustLineAsset::CreditAlphanum4(a) => Asset::CreditAlphanum4(a.clone()),
                TrustLineAsset::CreditAlphanum12(a) => Asset::CreditAlphanum12(a.clone()),
                TrustLineAsset::PoolShare(_) => return Vec::new(),
            };
            vec![(
                (t.account_id.to_string(), address::asset_string(&asset)),
                i128::from(t.balance),
            )]
        }
        LedgerEntryData::ClaimableBalance(c) => vec![(
            (
                address::claimable_balance(&c.balance_id).to_string(),
                address::asset_string(&c.asset),
            ),
            i128::from(c.amount),
        )],
        LedgerEntryData::LiquidityPool(p) => {
            let LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &p.body;
            let pool = address::pool(&p.liquidity_pool_id);
            vec![
                (
                    (pool.to_string(), address::asset_string(&cp.params.asset_a)),
                    i128::from(cp.reserve_a),
                ),
                (
                    (pool.to_string(), address::asset_string(&cp.params.asset_b)),
                    i128::from(cp.reserve_b),
                ),
            ]
        }
        _ => Vec::new(),
    }
}

/// An identity for pairing STATE/UPDATED/REMOVED of the same entry.
fn entry_id(key: &LedgerKey) -> Option<String> {
    Some(match key {
        LedgerKey::Account(k) => format!("account:{}", k.account_id),
        LedgerKey::Trustline(k) => format!("trustline:{}:{:?}", k.account_id, k.asset),
        LedgerKey::ClaimableBalance(k) => {
            format!("cb:{}", address::claimable_balance(&k.balance_id))
        }
        LedgerKey::LiquidityPool(k) => format!("lp:{}", address::pool(&k.liquidity_pool_id)),
        _ => return None,
    })
}

/// Net balance change per (holder, asset) across change lists applied in
/// order: each UPDATED against the last known state of its entry, CREATED
/// from zero, REMOVED to zero. Zero nets are dropped.
pub(crate) fn balance_deltas<'a>(
    lists: impl IntoIterator<Item = &'a LedgerEntryChanges>,
) -> HashMap<(String, String), i128> {
    let mut last: HashMap<String, Vec<Holding>> = HashMap::new();
    let mut deltas: HashMap<(String, String), i128> = HashMap::new();
    for list in lists {
        for change in list.0.iter() {
            match change {
                LedgerEntryChange::State(e) | LedgerEntryChange::Restored(e) => {
                    if let Some(id) = entry_id(&e.to_key()) {
                        last.insert(id, holdings(e));
                    }
                }
                LedgerEntryChange::Updated(e) | LedgerEntryChange::Created(e) => {
                    let Some(id) = entry_id(&e.to_key()) else {
                        continue;
                    };
                    let now = holdings(e);
                    let before = last.insert(id, now.clone()).unwrap_or_default();
                    for (key, amount) in before {
                        *deltas.entry(key).or_default() -= amount;
                    }
                    for (key, amount) in now {
                        *deltas.entry(key).or_default() += amount;
                    }
                }
                LedgerEntryChange::Removed(key) => {
                    let Some(id) = entry_id(key) else { continue };
                    for (key, amount) in last.remove(&id).unwrap_or_default() {
                        *deltas.entry(key).or_default() -= amount;
                    }
                }
            }
        }
    }
    deltas.retain(|_, v| *v != 0);
    deltas
}

/// The XLM balance change of `account` across change lists.
pub(crate) fn native_delta<'a>(
    lists: impl IntoIterator<Item = &'a LedgerEntryChanges>,
    account: &AccountId,
) -> i128 {
    balance_deltas(lists)
        .get(&(account.to_string(), "native".to_string()))
        .copied()
        .unwrap_or(0)
}

/// Claimable balances removed by a change list (their last state).
pub(crate) fn removed_claimable_balances(
    changes: &LedgerEntryChanges,
) -> Vec<ClaimableBalanceEntry> {
    let mut state: HashMap<String, ClaimableBalanceEntry> = HashMap::new();
    let mut removed = Vec::new();
    for change in changes.0.iter() {
        match change {
            LedgerEntryChange::State(e) => {
                if let LedgerEntryData::ClaimableBalance(cb) = &e.data {
                    state.insert(
                        address::claimable_balance(&cb.balance_id).to_string(),
                        cb.clone(),
                    );
                }
            }
            LedgerEntryChange::Removed(LedgerKey::ClaimableBalance(k)) => {
                if let Some(cb) = state.remove(&*address::claimable_balance(&k.balance_id)) {
                    removed.push(cb);
                }
            }
            _ => {}
        }
    }
    removed
}

/// Claimable balances created by a change list.
pub(crate) fn created_claimable_balances(
    changes: &LedgerEntryChanges,
) -> Vec<ClaimableBalanceEntry> {
    changes
        .0
        .iter()
        .filter_map(|c| match c {
            LedgerEntryChange::Created(e) => match &e.data {
                LedgerEntryData::ClaimableBalance(cb) => Some(cb.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// How a pool's reserves moved within a change list.
#[derive(Debug, Clone)]
pub(crate) struct PoolMove {
    /// The pool.
    pub pool: PoolId,
    /// Its first asset.
    pub asset_a: Asset,
    /// Its second asset.
    pub asset_b: Asset,
    /// reserve_a after − before (the pool gone counts as zero).
    pub delta_a: i64,
    /// reserve_b after − before.
    pub delta_b: i64,
}

/// Every pool whose entry changed in a change list.
pub(crate) fn pool_moves(changes: &LedgerEntryChanges) -> Vec<PoolMove> {
    let mut before: HashMap<String, (PoolId, Asset, Asset, i64, i64)> = HashMap::new();
    let mut out = Vec::new();
    let reserves = |e: &LedgerEntry| match &e.data {
        LedgerEntryData::LiquidityPool(p) => {
            let LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &p.body;
            Some((
                p.liquidity_pool_id.clone(),
                cp.params.asset_a.clone(),
                cp.params.asset_b.clone(),
                cp.reserve_a,
                cp.reserve_b,
            ))
        }
        _ => None,
    };
    for change in changes.0.iter() {
        match change {
            LedgerEntryChange::State(e) => {
                if let Some(r) = reserves(e) {
                    before.insert(address::pool(&r.0).to_string(), r);
                }
            }
            LedgerEntryChange::Updated(e) => {
                if let Some((pool, a, b, ra, rb)) = reserves(e) {
                    if let Some((_, _, _, ra0, rb0)) = before.remove(&*address::pool(&pool)) {
                        out.push(PoolMove {
                            pool,
                            asset_a: a,
                            asset_b: b,
                            delta_a: ra - ra0,
                            delta_b: rb - rb0,
                        });
                    }
                }
            }
            // A pool the operation created (the first deposit) moved from
            // nothing to its reserves.
            LedgerEntryChange::Created(e) => {
                if let Some((pool, a, b, ra, rb)) = reserves(e) {
                    out.push(PoolMove {
                        pool,
                        asset_a: a,
                        asset_b: b,
                        delta_a: ra,
                        delta_b: rb,
                    });
                }
            }
            LedgerEntryChange::Removed(LedgerKey::LiquidityPool(k)) => {
                if let Some((pool, a, b, ra0, rb0)) =
                    before.remove(&*address::pool(&k.liquidity_pool_id))
                {
                    out.push(PoolMove {
                        pool,
                        asset_a: a,
                        asset_b: b,
                        delta_a: -ra0,
                        delta_b: -rb0,
                    });
                }
            }
            _ => {}
        }
    }
    out
}
