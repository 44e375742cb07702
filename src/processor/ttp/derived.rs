//! Derived mode (stellar/go's default): events computed from operations,
//! their results and ledger-entry changes, for any meta version. Fees come
//! from `fee_charged` (classic) or the fee account's balance moves
//! (Soroban); each operation type follows the reference table.

use std::collections::HashMap;

use stellar_xdr::{
    AccountId, Asset, ClaimAtom, ClaimableBalanceId, FeeBumpTransactionInnerTx, Hash,
    HashIdPreimage, HashIdPreimageRevokeId, InflationResult, LedgerEntryChanges,
    ManageBuyOfferResult, ManageSellOfferResult, Memo, MuxedAccount, Operation, OperationBody,
    OperationResult, OperationResultTr, PathPaymentStrictReceiveResult,
    PathPaymentStrictSendResult, PoolId, PublicKey, SequenceNumber, TransactionEnvelope,
    TransactionExt, TransactionMeta, TransactionResultResult, TransactionV0,
};

use super::changes::{self, native_delta};
use super::contract_events::{self, Shape};
use super::event::{EventKind, Movement, MuxedInfo};
use super::{TtpError, TxEvents};
use crate::stellar::address::{self, demux, hash_xdr};
use crate::stellar::ledger::{is_success, LedgerView, TxApply};
use crate::stellar::Network;

/// The parts of an envelope the rules read.
struct Envelope<'a> {
    /// Pays the fee: the outer fee source for fee bumps.
    fee_source: AccountId,
    /// The (inner) transaction's source.
    source: AccountId,
    seq: i64,
    memo: &'a Memo,
    operations: &'a [Operation],
    soroban: bool,
}

fn envelope(env: &TransactionEnvelope) -> Envelope<'_> {
    let v0_source = |tx: &TransactionV0| {
        AccountId(PublicKey::PublicKeyTypeEd25519(
            tx.source_account_ed25519.clone(),
        ))
    };
    match env {
        TransactionEnvelope::TxV0(e) => Envelope {
            fee_source: v0_source(&e.tx),
            source: v0_source(&e.tx),
            seq: e.tx.seq_num.0,
            memo: &e.tx.memo,
            operations: &e.tx.operations,
            soroban: false,
        },
        TransactionEnvelope::Tx(e) => Envelope {
            fee_source: demux(&e.tx.source_account).0,
            source: demux(&e.tx.source_account).0,
            seq: e.tx.seq_num.0,
            memo: &e.tx.memo,
            operations: &e.tx.operations,
            soroban: matches!(e.tx.ext, TransactionExt::V1(_)),
        },
        TransactionEnvelope::TxFeeBump(e) => {
            let FeeBumpTransactionInnerTx::Tx(inner) = &e.tx.inner_tx;
            Envelope {
                fee_source: demux(&e.tx.fee_source).0,
                source: demux(&inner.tx.source_account).0,
                seq: inner.tx.seq_num.0,
                memo: &inner.tx.memo,
                operations: &inner.tx.operations,
                soroban: matches!(inner.tx.ext, TransactionExt::V1(_)),
            }
        }
    }
}

/// The operation results of a successful transaction.
fn op_results(result: &TransactionResultResult) -> &[OperationResult] {
    match result {
        TransactionResultResult::TxSuccess(ops) => ops,
        TransactionResultResult::TxFeeBumpInnerSuccess(pair) => match &pair.result.result {
            stellar_xdr::InnerTransactionResultResult::TxSuccess(ops) => ops,
            _ => &[],
        },
        _ => &[],
    }
}

fn memo_muxed(memo: &Memo) -> Option<MuxedInfo> {
    match memo {
        Memo::None => None,
        Memo::Id(id) => Some(MuxedInfo::Id(*id)),
        Memo::Text(text) => Some(MuxedInfo::Text(text.to_utf8_string_lossy())),
        Memo::Hash(h) | Memo::Return(h) => Some(MuxedInfo::Hash(h.0.to_vec())),
    }
}

/// Rules shared by all operations of one ledger.
struct Rules<'a> {
    network: &'a Network,
}

impl Rules<'_> {
    fn sac(&self, asset: &Asset) -> String {
        address::sac_address(asset, &self.network.id)
    }

    /// The mint/burn/transfer rule: from an issuer is a mint, to an issuer
    /// a burn, issuer to issuer and anything native a transfer. Only
    /// account holders can be issuers.
    fn movement(
        &self,
        from: String,
        to: String,
        asset: &Asset,
        amount: i64,
        muxed: Option<MuxedInfo>,
    ) -> Movement {
        let issuer = address::asset_issuer(asset).map(|i| i.to_string());
        let is_issuer = |a: &str| issuer.as_deref() == Some(a);
        let base = Movement {
            kind: EventKind::Transfer,
            from: Some(from.clone()),
            to: Some(to.clone()),
            asset: Some(asset.clone()),
            amount: i128::from(amount),
            contract_address: self.sac(asset),
            to_muxed: muxed,
        };
        match (is_issuer(&from), is_issuer(&to)) {
            (true, false) => Movement {
                kind: EventKind::Mint,
                from: None,
                ..base
            },
            (false, true) => Movement {
                kind: EventKind::Burn,
                to: None,
                to_muxed: None,
                ..base
            },
            _ => base,
        }
    }

    fn simple(&self, kind: EventKind, holder: String, asset: &Asset, amount: i64) -> Movement {
        let (from, to) = match kind {
            EventKind::Mint => (None, Some(holder)),
            _ => (Some(holder), None),
        };
        Movement {
            kind,
            from,
            to,
            asset: Some(asset.clone()),
            amount: i128::from(amount),
            contract_address: self.sac(asset),
            to_muxed: None,
        }
    }

    /// Two movements per claimed offer or pool trade: taker → seller of what
    /// the seller bought, then seller → taker of what it sold. This is the
    /// order core emits in CAP-67 events; stellar/go's derived table lists
    /// the pair the other way round (go-stellar-sdk issue 5727). Following
    /// core makes both modes give identical events and event ids.
    fn atoms(&self, atoms: &[ClaimAtom], taker: &str) -> Vec<Movement> {
        let mut out = Vec::new();
        for atom in atoms {
            let (seller, sold, amount_sold, bought, amount_bought) = match atom {
                ClaimAtom::V0(a) => (
                    address::account_from_key(&a.seller_ed25519.0),
                    &a.asset_sold,
                    a.amount_sold,
                    &a.asset_bought,
                    a.amount_bought,
                ),
                ClaimAtom::OrderBook(a) => (
                    a.seller_id.to_string(),
                    &a.asset_sold,
                    a.amount_sold,
                    &a.asset_bought,
                    a.amount_bought,
                ),
                ClaimAtom::LiquidityPool(a) => (
                    address::pool(&a.liquidity_pool_id),
                    &a.asset_sold,
                    a.amount_sold,
                    &a.asset_bought,
                    a.amount_bought,
                ),
            };
            out.push(self.movement(
                taker.to_string(),
                seller.clone(),
                bought,
                amount_bought,
                None,
            ));
            out.push(self.movement(seller, taker.to_string(), sold, amount_sold, None));
        }
        out
    }
}

/// What one operation needs to be turned into movements.
struct OpContext<'a> {
    op: &'a Operation,
    index: usize,
    result: Option<&'a OperationResult>,
    changes: Option<&'a LedgerEntryChanges>,
    meta: &'a TransactionMeta,
    env: &'a Envelope<'a>,
}

impl OpContext<'_> {
    fn source(&self) -> AccountId {
        match &self.op.source_account {
            Some(account) => demux(account).0,
            None => self.env.source.clone(),
        }
    }

    fn result(&self) -> Option<&OperationResultTr> {
        match self.result? {
            OperationResult::OpInner(tr) => Some(tr),
            _ => None,
        }
    }

    fn changes(&self) -> Result<&LedgerEntryChanges, String> {
        self.changes.ok_or_else(|| {
            format!(
                "operation {} has no entry changes in the meta",
                self.index + 1
            )
        })
    }

    /// Muxed info for a destination: its mux id if it is M..., else the memo.
    fn muxed(&self, destination: &MuxedAccount) -> Option<MuxedInfo> {
        match demux(destination).1 {
            Some(id) => Some(MuxedInfo::Id(id)),
            None => memo_muxed(self.env.memo),
        }
    }
}

fn operation(rules: &Rules<'_>, ctx: &OpContext<'_>) -> Result<Vec<Movement>, String> {
    let source = ctx.source().to_string();
    let result = ctx.result();
    Ok(match &ctx.op.body {
        OperationBody::CreateAccount(op) => vec![rules.movement(
            source,
            op.destination.to_string(),
            &Asset::Native,
            op.starting_balance,
            memo_muxed(ctx.env.memo),
        )],
        OperationBody::AccountMerge(destination) => match result {
            Some(OperationResultTr::AccountMerge(stellar_xdr::AccountMergeResult::Success(
                balance,
            ))) => vec![rules.movement(
                source,
                demux(destination).0.to_string(),
                &Asset::Native,
                *balance,
                ctx.muxed(destination),
            )],
            _ => Vec::new(),
        },
        OperationBody::Payment(op) => vec![rules.movement(
            source,
            demux(&op.destination).0.to_string(),
            &op.asset,
            op.amount,
            ctx.muxed(&op.destination),
        )],
        OperationBody::PathPaymentStrictSend(op) => {
            let Some(OperationResultTr::PathPaymentStrictSend(
                PathPaymentStrictSendResult::Success(r),
            )) = result
            else {
                return Err("a successful PathPaymentStrictSend without a success result".into());
            };
            let mut out = rules.atoms(&r.offers, &source);
            out.push(rules.movement(
                source,
                demux(&op.destination).0.to_string(),
                &op.dest_asset,
                r.last.amount,
                ctx.muxed(&op.destination),
            ));
            out
        }
        OperationBody::PathPaymentStrictReceive(op) => {
            let Some(OperationResultTr::PathPaymentStrictReceive(
                PathPaymentStrictReceiveResult::Success(r),
            )) = result
            else {
                return Err(
                    "a successful PathPaymentStrictReceive without a success result".into(),
                );
            };
            let mut out = rules.atoms(&r.offers, &source);
            out.push(rules.movement(
                source,
                demux(&op.destination).0.to_string(),
                &op.dest_asset,
                op.dest_amount,
                ctx.muxed(&op.destination),
            ));
            out
        }
        OperationBody::ManageSellOffer(_) | OperationBody::CreatePassiveSellOffer(_) => {
            match result {
                Some(OperationResultTr::ManageSellOffer(ManageSellOfferResult::Success(r)))
                | Some(OperationResultTr::CreatePassiveSellOffer(
                    ManageSellOfferResult::Success(r),
                )) => rules.atoms(&r.offers_claimed, &source),
                _ => Vec::new(),
            }
        }
        OperationBody::ManageBuyOffer(_) => match result {
            Some(OperationResultTr::ManageBuyOffer(ManageBuyOfferResult::Success(r))) => {
                rules.atoms(&r.offers_claimed, &source)
            }
            _ => Vec::new(),
        },
        OperationBody::CreateClaimableBalance(op) => match result {
            Some(OperationResultTr::CreateClaimableBalance(
                stellar_xdr::CreateClaimableBalanceResult::Success(id),
            )) => {
                vec![rules.movement(
                    source,
                    address::claimable_balance(id),
                    &op.asset,
                    op.amount,
                    None,
                )]
            }
            _ => return Err("a successful CreateClaimableBalance without a balance id".into()),
        },
        OperationBody::ClaimClaimableBalance(op) => {
            let cb = single_removed(ctx.changes()?, &op.balance_id)?;
            let muxed = memo_muxed(ctx.env.memo);
            vec![rules.movement(
                address::claimable_balance(&op.balance_id),
                source,
                &cb.asset,
                cb.amount,
                muxed,
            )]
        }
        OperationBody::Clawback(op) => {
            vec![rules.simple(
                EventKind::Clawback,
                demux(&op.from).0.to_string(),
                &op.asset,
                op.amount,
            )]
        }
        OperationBody::ClawbackClaimableBalance(op) => {
            let cb = single_removed(ctx.changes()?, &op.balance_id)?;
            vec![rules.simple(
                EventKind::Clawback,
                address::claimable_balance(&op.balance_id),
                &cb.asset,
                cb.amount,
            )]
        }
        OperationBody::LiquidityPoolDeposit(op) => {
            let moved = single_pool(ctx.changes()?, &op.liquidity_pool_id)?;
            if moved.delta_a <= 0 || moved.delta_b <= 0 {
                return Err(format!(
                    "LiquidityPoolDeposit into {} did not grow both reserves ({} / {})",
                    address::pool(&op.liquidity_pool_id),
                    moved.delta_a,
                    moved.delta_b
                ));
            }
            let pool = address::pool(&op.liquidity_pool_id);
            vec![
                rules.movement(
                    source.clone(),
                    pool.clone(),
                    &moved.asset_a,
                    moved.delta_a,
                    None,
                ),
                rules.movement(source, pool, &moved.asset_b, moved.delta_b, None),
            ]
        }
        OperationBody::LiquidityPoolWithdraw(op) => {
            let moved = single_pool(ctx.changes()?, &op.liquidity_pool_id)?;
            if moved.delta_a > 0 || moved.delta_b > 0 {
                return Err(format!(
                    "LiquidityPoolWithdraw from {} grew a reserve ({} / {})",
                    address::pool(&op.liquidity_pool_id),
                    moved.delta_a,
                    moved.delta_b
                ));
            }
            let pool = address::pool(&op.liquidity_pool_id);
            let muxed = memo_muxed(ctx.env.memo);
            vec![
                rules.movement(
                    pool.clone(),
                    source.clone(),
                    &moved.asset_a,
                    -moved.delta_a,
                    muxed.clone(),
                ),
                rules.movement(pool, source, &moved.asset_b, -moved.delta_b, muxed),
            ]
        }
        OperationBody::AllowTrust(_) | OperationBody::SetTrustLineFlags(_) => {
            revocation(rules, ctx)?
        }
        OperationBody::Inflation => match result {
            Some(OperationResultTr::Inflation(InflationResult::Success(payouts))) => payouts
                .iter()
                .map(|p| {
                    rules.simple(
                        EventKind::Mint,
                        p.destination.to_string(),
                        &Asset::Native,
                        p.amount,
                    )
                })
                .collect(),
            _ => Vec::new(),
        },
        OperationBody::InvokeHostFunction(_) => contract_movements(rules, ctx),
        _ => Vec::new(),
    })
}

/// Contract events of an InvokeHostFunction: per operation in V4 meta, the
/// transaction's Soroban events in V3 (one operation per tx).
fn contract_movements(rules: &Rules<'_>, ctx: &OpContext<'_>) -> Vec<Movement> {
    let (events, shape) = match ctx.meta {
        TransactionMeta::V3(m) => match &m.soroban_meta {
            Some(s) => (s.events.iter().collect::<Vec<_>>(), Shape::V3),
            None => return Vec::new(),
        },
        TransactionMeta::V4(m) => match m.operations.get(ctx.index) {
            Some(op) => (op.events.iter().collect(), Shape::V4),
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    events
        .into_iter()
        .filter_map(|e| contract_events::parse(e, shape, &rules.network.id))
        .collect()
}

fn single_removed(
    changes: &LedgerEntryChanges,
    id: &ClaimableBalanceId,
) -> Result<stellar_xdr::ClaimableBalanceEntry, String> {
    let wanted = address::claimable_balance(id);
    let mut removed: Vec<_> = changes::removed_claimable_balances(changes)
        .into_iter()
        .filter(|cb| address::claimable_balance(&cb.balance_id) == wanted)
        .collect();
    match removed.len() {
        1 => Ok(removed.remove(0)),
        n => Err(format!(
            "expected exactly one removed claimable balance {wanted}, found {n}"
        )),
    }
}

fn single_pool(changes: &LedgerEntryChanges, id: &PoolId) -> Result<changes::PoolMove, String> {
    let wanted = address::pool(id);
    let mut moves: Vec<_> = changes::pool_moves(changes)
        .into_iter()
        .filter(|m| address::pool(&m.pool) == wanted)
        .collect();
    match moves.len() {
        1 => Ok(moves.remove(0)),
        n => Err(format!(
            "expected one change of liquidity pool {wanted}, found {n}"
        )),
    }
}

/// CAP-38: revoking a trustline pulls the trustor's pool shares out into
/// claimable balances whose ids follow the revocation formula. Each
/// impacted pool's assets move L → B; an asset with no balance (the trustor
/// was its issuer) is burned from L.
fn revocation(rules: &Rules<'_>, ctx: &OpContext<'_>) -> Result<Vec<Movement>, String> {
    let Some(changes) = ctx.changes else {
        return Ok(Vec::new());
    };
    let created: HashMap<[u8; 32], stellar_xdr::ClaimableBalanceEntry> =
        changes::created_claimable_balances(changes)
            .into_iter()
            .map(|cb| {
                let ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)) = cb.balance_id;
                (id, cb)
            })
            .collect();
    let mut out = Vec::new();
    for moved in changes::pool_moves(changes) {
        let pool = address::pool(&moved.pool);
        let revoke_id = |asset: &Asset| {
            hash_xdr(&HashIdPreimage::PoolRevokeOpId(HashIdPreimageRevokeId {
                source_account: ctx.env.source.clone(),
                seq_num: SequenceNumber(ctx.env.seq),
                op_num: ctx.index as u32,
                liquidity_pool_id: moved.pool.clone(),
                asset: asset.clone(),
            }))
        };
        let sides = [
            (&moved.asset_a, moved.delta_a),
            (&moved.asset_b, moved.delta_b),
        ];
        let found: Vec<Option<&stellar_xdr::ClaimableBalanceEntry>> = sides
            .iter()
            .map(|(asset, _)| created.get(&revoke_id(asset)))
            .collect();
        if found.iter().all(Option::is_none) {
            continue;
        }
        for ((asset, delta), cb) in sides.iter().zip(found) {
            match cb {
                Some(cb) => out.push(rules.movement(
                    pool.clone(),
                    address::claimable_balance(&cb.balance_id),
                    asset,
                    cb.amount,
                    None,
                )),
                None if *delta < 0 => {
                    out.push(rules.simple(EventKind::Burn, pool.clone(), asset, -delta))
                }
                None => {}
            }
        }
    }
    Ok(out)
}

/// The fee movements of one transaction: (charge, refund).
fn fees(rules: &Rules<'_>, tx: &TxApply<'_>, env: &Envelope<'_>) -> (Movement, Option<Movement>) {
    let payer = env.fee_source.to_string();
    let fee = |amount: i128| Movement {
        kind: EventKind::Fee,
        from: Some(payer.clone()),
        to: None,
        asset: Some(Asset::Native),
        amount,
        contract_address: rules.sac(&Asset::Native),
        to_muxed: None,
    };
    if !env.soroban {
        return (fee(i128::from(tx.result.result.fee_charged)), None);
    }
    let charged = -native_delta([tx.fee_processing], &env.fee_source);
    let mut refund_lists: Vec<&LedgerEntryChanges> = Vec::new();
    refund_lists.extend(changes::tx_changes_after(tx.meta));
    refund_lists.extend(tx.post_apply_fee_processing);
    let refunded = native_delta(refund_lists, &env.fee_source);
    (fee(charged), (refunded > 0).then(|| fee(-refunded)))
}

/// Pre-protocol-8 XLM reconciliation: a mint before (or burn after) an
/// operation for what its source's XLM balance moved beyond its events.
fn reconcile(rules: &Rules<'_>, ctx: &OpContext<'_>, movements: &mut Vec<Movement>) {
    let Some(changes) = ctx.changes else { return };
    let source = ctx.source();
    let holder = source.to_string();
    let actual = native_delta([changes], &source);
    let mut implied = 0i128;
    for m in movements.iter().filter(|m| m.asset == Some(Asset::Native)) {
        if m.from.as_deref() == Some(holder.as_str()) {
            implied -= m.amount;
        }
        if m.to.as_deref() == Some(holder.as_str()) {
            implied += m.amount;
        }
    }
    let diff = actual - implied;
    if diff > 0 {
        let amount = i64::try_from(diff).unwrap_or(i64::MAX);
        movements.insert(
            0,
            rules.simple(EventKind::Mint, holder, &Asset::Native, amount),
        );
    } else if diff < 0 {
        let amount = i64::try_from(-diff).unwrap_or(i64::MAX);
        movements.push(rules.simple(EventKind::Burn, holder, &Asset::Native, amount));
    }
}

/// Events of every transaction, derived from operations and changes.
pub fn transactions(view: &LedgerView<'_>, network: &Network) -> Result<Vec<TxEvents>, TtpError> {
    let ledger = view.sequence();
    let mut by_hash: HashMap<[u8; 32], &TransactionEnvelope> = HashMap::new();
    for env in view.envelopes() {
        let hash = env.hash(network.id).map_err(|e| TtpError::Ledger {
            ledger,
            detail: format!("cannot hash an envelope: {e}"),
        })?;
        by_hash.insert(hash, env);
    }
    let rules = Rules { network };
    let reconcile_xlm = view.protocol_version() < 8;
    let mut out = Vec::new();
    for tx in view.transactions() {
        let hash = tx.result.transaction_hash.0;
        let fail = |detail: String| TtpError::Tx {
            ledger,
            tx_hash: hex::encode(hash),
            detail,
        };
        let raw = by_hash.get(&hash).ok_or_else(|| {
            fail(format!(
                "no envelope in the tx set hashes to this result under {} (wrong --network?)",
                network.name()
            ))
        })?;
        let env = envelope(raw);
        let successful = is_success(&tx.result.result);
        let (charge, refund) = fees(&rules, &tx, &env);
        let mut ops = Vec::new();
        if successful {
            let results = op_results(&tx.result.result.result);
            for (index, op) in env.operations.iter().enumerate() {
                let ctx = OpContext {
                    op,
                    index,
                    result: results.get(index),
                    changes: changes::op_changes(tx.meta, index),
                    meta: tx.meta,
                    env: &env,
                };
                let mut movements = operation(&rules, &ctx)
                    .map_err(|e| fail(format!("operation {}: {e}", index + 1)))?;
                if reconcile_xlm {
                    reconcile(&rules, &ctx, &mut movements);
                }
                ops.push((index as u32 + 1, movements));
            }
        }
        out.push(TxEvents {
            hash,
            index: tx.index as u32 + 1,
            successful,
            charge,
            refund,
            ops,
        });
    }
    Ok(out)
}
