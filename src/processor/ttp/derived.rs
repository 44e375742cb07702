//! Derived mode (stellar/go's default): events computed from operations,
//! their results and ledger-entry changes, for any meta version. Fees come
//! from `fee_charged` (classic) or the fee account's balance moves
//! (Soroban); each operation type follows the reference table.

use std::collections::HashMap;

use stellar_xdr::{
    AccountId, Asset, ClaimAtom, ClaimableBalanceId, FeeBumpTransactionInnerTx, Hash,
    HashIdPreimage, HashIdPreimageRevokeId, InflationResult, LedgerEntryChanges, Limits,
    ManageBuyOfferResult, ManageSellOfferResult, Memo, MuxedAccount, Operation, OperationBody,
    OperationResult, OperationResultTr, PathPaymentStrictReceiveResult,
    PathPaymentStrictSendResult, PoolId, PublicKey, ReadXdr, SequenceNumber, TransactionEnvelope,
    TransactionExt, TransactionMeta, TransactionResultPair, TransactionResultResult, TransactionV0,
    Uint256, VecM,
};

use super::changes::{self, native_delta};
use super::contract_events::{self, Shape};
use super::event::{EventKind, Movement, MuxedInfo};
use super::{TtpError, TxEvents};
use crate::stellar::address::{self, demux, hash_xdr, Strkey};
use crate::stellar::ledger::{is_success, LedgerView, TxApply};
use crate::stellar::walk::{EnvelopeRef, LedgerIndex, Span, ENVELOPE_TX_FEE_BUMP, ENVELOPE_TX_V0};
use crate::stellar::Network;

/// The parts of an envelope the rules read.
struct Envelope<'a> {
    /// Pays the fee: the outer fee source for fee bumps.
    fee_source: AccountId,
    /// The (inner) transaction's source.
    source: AccountId,
    /// The same, as written (an M address keeps its id).
    source_muxed: MuxedAccount,
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
            source_muxed: MuxedAccount::Ed25519(e.tx.source_account_ed25519.clone()),
            seq: e.tx.seq_num.0,
            memo: &e.tx.memo,
            operations: &e.tx.operations,
            soroban: false,
        },
        TransactionEnvelope::Tx(e) => Envelope {
            fee_source: demux(&e.tx.source_account).0,
            source: demux(&e.tx.source_account).0,
            source_muxed: e.tx.source_account.clone(),
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
                source_muxed: inner.tx.source_account.clone(),
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
    fn sac(&self, asset: &Asset) -> Strkey {
        address::sac_address(asset, &self.network.id)
    }

    /// The mint/burn/transfer rule: from an issuer is a mint, to an issuer
    /// a burn, issuer to issuer and anything native a transfer. Only
    /// account holders can be issuers.
    fn movement(
        &self,
        from: Strkey,
        to: Strkey,
        asset: &Asset,
        amount: i64,
        muxed: Option<MuxedInfo>,
    ) -> Movement {
        let issuer = address::asset_issuer(asset).map(address::account);
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

    fn simple(&self, kind: EventKind, holder: Strkey, asset: &Asset, amount: i64) -> Movement {
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
    fn atoms(&self, atoms: &[ClaimAtom], taker: &Strkey) -> Vec<Movement> {
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
                    address::account(&a.seller_id),
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
            out.push(self.movement(taker.clone(), seller.clone(), bought, amount_bought, None));
            out.push(self.movement(seller, taker.clone(), sold, amount_sold, None));
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

    /// The operation's source as written: an M account keeps its id.
    fn source_muxed(&self) -> &MuxedAccount {
        self.op
            .source_account
            .as_ref()
            .unwrap_or(&self.env.source_muxed)
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
    let source = address::account(&ctx.source());
    let result = ctx.result();
    Ok(match &ctx.op.body {
        OperationBody::CreateAccount(op) => vec![rules.movement(
            source,
            address::account(&op.destination),
            &Asset::Native,
            op.starting_balance,
            memo_muxed(ctx.env.memo),
        )],
        OperationBody::AccountMerge(destination) => match result {
            Some(OperationResultTr::AccountMerge(stellar_xdr::AccountMergeResult::Success(
                balance,
            ))) => vec![rules.movement(
                source,
                address::account(&demux(destination).0),
                &Asset::Native,
                *balance,
                ctx.muxed(destination),
            )],
            _ => Vec::new(),
        },
        OperationBody::Payment(op) => vec![rules.movement(
            source,
            address::account(&demux(&op.destination).0),
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
                address::account(&demux(&op.destination).0),
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
                address::account(&demux(&op.destination).0),
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
            // The claimer receives: its mux id if it is an M account,
            // else the memo.
            let muxed = ctx.muxed(ctx.source_muxed());
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
                address::account(&demux(&op.from).0),
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
            let muxed = ctx.muxed(ctx.source_muxed());
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
                        address::account(&p.destination),
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
    // In ledger-key order (the pool id), as stellar/go's change reader
    // sorts an operation's changes: with several pools the events follow
    // the pools' ids, not their place in the meta.
    let mut moves = changes::pool_moves(changes);
    moves.sort_by_key(|m| m.pool.0 .0);
    for moved in moves {
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

/// What the rules read of a transaction as applied.
struct Applied<'a> {
    /// 0-based position in apply order.
    index: usize,
    hash: [u8; 32],
    successful: bool,
    fee_charged: i64,
    /// The operation results (empty unless it succeeded).
    op_results: &'a [OperationResult],
    fee_processing: &'a LedgerEntryChanges,
    meta: &'a TransactionMeta,
    post_apply_fee_processing: Option<&'a LedgerEntryChanges>,
}

impl<'a> Applied<'a> {
    fn of(tx: &TxApply<'a>) -> Self {
        Applied {
            index: tx.index,
            hash: tx.result.transaction_hash.0,
            successful: is_success(&tx.result.result),
            fee_charged: tx.result.result.fee_charged,
            op_results: op_results(&tx.result.result.result),
            fee_processing: tx.fee_processing,
            meta: tx.meta,
            post_apply_fee_processing: tx.post_apply_fee_processing,
        }
    }
}

/// The fee movements of one transaction: (charge, refund).
fn fees(rules: &Rules<'_>, tx: &Applied<'_>, env: &Envelope<'_>) -> (Movement, Option<Movement>) {
    let payer = address::account(&env.fee_source);
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
        return (fee(i128::from(tx.fee_charged)), None);
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
    let holder = address::account(&source);
    let actual = native_delta([changes], &source);
    let mut implied = 0i128;
    for m in movements.iter().filter(|m| m.asset == Some(Asset::Native)) {
        if m.from.as_deref() == Some(&*holder) {
            implied -= m.amount;
        }
        if m.to.as_deref() == Some(&*holder) {
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

/// One transaction's events: its fees, and unless it failed, each
/// operation's movements.
fn tx_events(
    rules: &Rules<'_>,
    tx: &Applied<'_>,
    env: &Envelope<'_>,
    reconcile_xlm: bool,
) -> Result<TxEvents, String> {
    let successful = tx.successful;
    let (charge, refund) = fees(rules, tx, env);
    let mut ops = Vec::new();
    if successful {
        for (index, op) in env.operations.iter().enumerate() {
            let ctx = OpContext {
                op,
                index,
                result: tx.op_results.get(index),
                changes: changes::op_changes(tx.meta, index),
                meta: tx.meta,
                env,
            };
            let mut movements =
                operation(rules, &ctx).map_err(|e| format!("operation {}: {e}", index + 1))?;
            if reconcile_xlm {
                reconcile(rules, &ctx, &mut movements);
            }
            ops.push((index as u32 + 1, movements));
        }
    }
    Ok(TxEvents {
        hash: tx.hash,
        index: tx.index as u32 + 1,
        successful,
        charge,
        refund,
        ops,
    })
}

fn no_envelope(ledger: u32, hash: [u8; 32], network: &Network) -> TtpError {
    TtpError::Tx {
        ledger,
        tx_hash: hex::encode(hash),
        detail: format!(
            "no envelope in the tx set hashes to this result under {} (wrong --network?)",
            network.name()
        ),
    }
}

/// Events of every transaction, derived from operations and changes
/// (reference path).
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
        let raw = by_hash
            .get(&hash)
            .ok_or_else(|| no_envelope(ledger, hash, network))?;
        out.push(
            tx_events(&rules, &Applied::of(&tx), &envelope(raw), reconcile_xlm).map_err(
                |detail| TtpError::Tx {
                    ledger,
                    tx_hash: hex::encode(hash),
                    detail,
                },
            )?,
        );
    }
    Ok(out)
}

/// Whether an operation's rules read the meta (entry changes or contract
/// events); the fast path decodes a transaction's meta only then.
fn reads_meta(op: &Operation) -> bool {
    matches!(
        op.body,
        OperationBody::ClaimClaimableBalance(_)
            | OperationBody::ClawbackClaimableBalance(_)
            | OperationBody::LiquidityPoolDeposit(_)
            | OperationBody::LiquidityPoolWithdraw(_)
            | OperationBody::AllowTrust(_)
            | OperationBody::SetTrustLineFlags(_)
            | OperationBody::InvokeHostFunction(_)
    )
}

/// The hash of an envelope from its bytes: sha256 of the network id, the
/// envelope type and the signed transaction, as `stellar-xdr` computes it
/// from the decoded envelope. V0 envelopes (and bytes that would not
/// re-encode the same) take the decoded route.
fn envelope_hash(env: &EnvelopeRef, xdr: &[u8], network: &Network) -> Result<[u8; 32], String> {
    use sha2::{Digest, Sha256};
    if env.kind == ENVELOPE_TX_V0 || !env.canonical {
        let decoded = decode::<TransactionEnvelope>(env.span, xdr)?;
        return decoded
            .hash(network.id)
            .map_err(|e| format!("cannot hash an envelope: {e}"));
    }
    let mut sha = Sha256::new();
    sha.update(network.id);
    sha.update(env.kind.to_be_bytes());
    sha.update(env.signed.of(xdr));
    Ok(sha.finalize().into())
}

/// Decodes one part of a validated ledger with `stellar-xdr`, with the
/// depth that was left where it sits.
fn decode<T: ReadXdr>(span: Span, xdr: &[u8]) -> Result<T, String> {
    let bytes = span.of(xdr);
    T::from_xdr(
        bytes,
        Limits {
            depth: span.depth,
            len: bytes.len(),
        },
    )
    .map_err(|e| format!("cannot decode bytes {}..{}: {e}", span.start, span.end))
}

/// Events of every transaction, derived from operations and changes, with
/// the ledger read in place: of each envelope only the parts the rules
/// read are decoded, results only for transactions that succeeded, and a
/// transaction's meta only when one of its rules reads it.
pub(crate) fn transactions_fast(
    index: &LedgerIndex,
    xdr: &[u8],
    network: &Network,
) -> Result<Vec<TxEvents>, TtpError> {
    let ledger = index.header.ledger_seq;
    let fail_ledger = |detail: String| TtpError::Ledger { ledger, detail };
    let mut by_hash: HashMap<[u8; 32], &EnvelopeRef> =
        HashMap::with_capacity(index.envelopes.len());
    for env in &index.envelopes {
        by_hash.insert(envelope_hash(env, xdr, network).map_err(fail_ledger)?, env);
    }
    let rules = Rules { network };
    let reconcile_xlm = index.header.ledger_version < 8;
    let empty_changes = LedgerEntryChanges::default();
    let no_meta = TransactionMeta::V0(Default::default());
    let mut out = Vec::with_capacity(index.txs.len());
    for (i, tx) in index.txs.iter().enumerate() {
        let fail = |detail: String| TtpError::Tx {
            ledger,
            tx_hash: hex::encode(tx.hash),
            detail,
        };
        let env = by_hash
            .get(&tx.hash)
            .ok_or_else(|| no_envelope(ledger, tx.hash, network))?;
        let parts = EnvelopeParts::decode(env, xdr).map_err(&fail)?;
        let env = parts.envelope();
        let successful = tx.successful();
        let result: Option<TransactionResultPair> = if successful {
            Some(decode(tx.result, xdr).map_err(&fail)?)
        } else {
            None
        };
        let needs_meta =
            env.soroban || (successful && (reconcile_xlm || env.operations.iter().any(reads_meta)));
        let meta: TransactionMeta = if needs_meta {
            decode(tx.meta, xdr).map_err(&fail)?
        } else {
            no_meta.clone()
        };
        let (fee_processing, post): (LedgerEntryChanges, Option<LedgerEntryChanges>) =
            if env.soroban {
                let post = match tx.post_fee_processing {
                    Some(span) => Some(decode(span, xdr).map_err(&fail)?),
                    None => None,
                };
                (decode(tx.fee_processing, xdr).map_err(&fail)?, post)
            } else {
                (empty_changes.clone(), None)
            };
        let applied = Applied {
            index: i,
            hash: tx.hash,
            successful,
            fee_charged: tx.fee_charged,
            op_results: result
                .as_ref()
                .map(|r| op_results(&r.result.result))
                .unwrap_or_default(),
            fee_processing: &fee_processing,
            meta: &meta,
            post_apply_fee_processing: post.as_ref(),
        };
        out.push(tx_events(&rules, &applied, &env, reconcile_xlm).map_err(fail)?);
    }
    Ok(out)
}

/// The parts of an envelope the rules read, each decoded alone from its
/// span (signatures and Soroban resources are never decoded).
struct EnvelopeParts {
    fee_source: AccountId,
    source: AccountId,
    source_muxed: MuxedAccount,
    seq: i64,
    memo: Memo,
    operations: VecM<Operation, 100>,
    soroban: bool,
}

impl EnvelopeParts {
    fn decode(env: &EnvelopeRef, xdr: &[u8]) -> Result<Self, String> {
        let source_muxed = if env.kind == ENVELOPE_TX_V0 {
            MuxedAccount::Ed25519(decode::<Uint256>(env.source, xdr)?)
        } else {
            decode::<MuxedAccount>(env.source, xdr)?
        };
        let source = demux(&source_muxed).0;
        let fee_source = if env.kind == ENVELOPE_TX_FEE_BUMP {
            demux(&decode::<MuxedAccount>(env.fee_source, xdr)?).0
        } else {
            source.clone()
        };
        Ok(EnvelopeParts {
            fee_source,
            source,
            source_muxed,
            seq: env.seq_num,
            memo: decode(env.memo, xdr)?,
            operations: decode(env.operations_span, xdr)?,
            soroban: env.soroban,
        })
    }

    fn envelope(&self) -> Envelope<'_> {
        Envelope {
            fee_source: self.fee_source.clone(),
            source: self.source.clone(),
            source_muxed: self.source_muxed.clone(),
            seq: self.seq,
            memo: &self.memo,
            operations: &self.operations,
            soroban: self.soroban,
        }
    }
}
