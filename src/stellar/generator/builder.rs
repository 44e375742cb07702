//! Builds one ledger: plans a realistic mix of transactions, charges all
//! fees first, applies each transaction (sequence bump, operations with
//! results, entry changes and CAP-67 events), refunds Soroban fees after all
//! transactions (protocol 23), and assembles `LedgerCloseMeta` V2 with a
//! correct header hash chain and tx hashes.

use rand::Rng;
use sha2::{Digest, Sha256};
use stellar_xdr::{
    AccountMergeResult, ClaimAtom, ClaimClaimableBalanceOp, ClaimClaimableBalanceResult,
    ClaimLiquidityAtom, ClaimPredicate, ClaimableBalanceId, Claimant, ClaimantV0, ClawbackOp,
    ClawbackResult, ContractId, CreateAccountOp, CreateAccountResult, CreateClaimableBalanceOp,
    CreateClaimableBalanceResult, DecoratedSignature, DependentTxCluster, ExtensionPoint,
    FeeBumpTransaction, FeeBumpTransactionEnvelope, FeeBumpTransactionExt,
    FeeBumpTransactionInnerTx, GeneralizedTransactionSet, Hash, HashIdPreimage,
    HashIdPreimageOperationId, HostFunction, InnerTransactionResult, InnerTransactionResultExt,
    InnerTransactionResultPair, InnerTransactionResultResult, InvokeContractArgs,
    InvokeHostFunctionOp, InvokeHostFunctionResult, LedgerCloseMeta, LedgerCloseMetaExt,
    LedgerCloseMetaV2, LedgerEntryChanges, LedgerFootprint, LedgerHeader, LedgerHeaderExt,
    LedgerHeaderHistoryEntry, LedgerHeaderHistoryEntryExt, LiquidityPoolDepositOp,
    LiquidityPoolDepositResult, LiquidityPoolWithdrawOp, LiquidityPoolWithdrawResult, Memo,
    MuxedAccount, MuxedAccountMed25519, Operation, OperationBody, OperationMetaV2, OperationResult,
    OperationResultTr, ParallelTxExecutionStage, ParallelTxsComponent, PathPaymentStrictReceiveOp,
    PathPaymentStrictReceiveResult, PathPaymentStrictReceiveResultSuccess, PathPaymentStrictSendOp,
    PathPaymentStrictSendResult, PathPaymentStrictSendResultSuccess, PaymentOp, PaymentResult,
    PoolId, Preconditions, Price, ScAddress, ScSymbol, ScVal, SequenceNumber, Signature,
    SignatureHint, SimplePaymentResult, SorobanResources, SorobanTransactionData,
    SorobanTransactionDataExt, SorobanTransactionMetaExt, SorobanTransactionMetaV2, StellarValue,
    StellarValueExt, TimePoint, Transaction, TransactionEnvelope, TransactionEvent,
    TransactionEventStage, TransactionExt, TransactionMeta, TransactionMetaV4, TransactionPhase,
    TransactionResult, TransactionResultExt, TransactionResultMetaV1, TransactionResultPair,
    TransactionResultResult, TransactionResultSet, TransactionSetV1, TransactionV1Envelope,
    TxSetComponent, TxSetComponentTxsMaybeDiscountedFee, Uint256,
};

use super::events::{
    classic_move, custom_event, fee_event, sac_event, Emitted, ExpectedEvent, Muxed,
};
use super::state::{i128_val, AssetRef, EntryKey, Journal, World};
use crate::stellar::address::{account_id, hash_xdr};
use crate::stellar::ledger::header_hash;

const BASE_FEE: i64 = 100;
/// 2025-01-01T00:00:00Z; ledger `s` closes at this + 5 s × s.
const EPOCH: u64 = 1_735_689_600;
const PROTOCOL: u32 = 23;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    NativePayment,
    CreditPayment,
    IssuerPayment,
    PaymentToIssuer,
    MultiPayment,
    PathSend,
    PathReceive,
    CreateAccount,
    AccountMerge,
    CreateClaimable,
    ClaimClaimable,
    PoolDeposit,
    PoolWithdraw,
    Clawback,
    Failed,
    FeeBump,
    SacTransfer,
    SacMint,
    SacBurn,
    CustomTransfer,
    CustomMint,
}

/// (kind, weight in percent).
const MIX: &[(Kind, u32)] = &[
    (Kind::NativePayment, 14),
    (Kind::CreditPayment, 10),
    (Kind::IssuerPayment, 4),
    (Kind::PaymentToIssuer, 3),
    (Kind::MultiPayment, 4),
    (Kind::PathSend, 5),
    (Kind::PathReceive, 3),
    (Kind::CreateAccount, 5),
    (Kind::AccountMerge, 3),
    (Kind::CreateClaimable, 5),
    (Kind::ClaimClaimable, 5),
    (Kind::PoolDeposit, 4),
    (Kind::PoolWithdraw, 3),
    (Kind::Clawback, 2),
    (Kind::Failed, 5),
    (Kind::FeeBump, 5),
    (Kind::SacTransfer, 7),
    (Kind::SacMint, 3),
    (Kind::SacBurn, 3),
    (Kind::CustomTransfer, 5),
    (Kind::CustomMint, 2),
];

impl Kind {
    fn soroban(self) -> bool {
        matches!(
            self,
            Kind::SacTransfer
                | Kind::SacMint
                | Kind::SacBurn
                | Kind::CustomTransfer
                | Kind::CustomMint
        )
    }
}

struct Plan {
    kind: Kind,
    source: usize,
    fee_source: usize,
    fee: i64,
    refund: i64,
    resource_fee: i64,
    memo: Memo,
    /// A claimable balance or merge source picked at planning time.
    target: Option<[u8; 32]>,
}

struct BuiltOp {
    op: Operation,
    result: OperationResult,
    changes: LedgerEntryChanges,
    events: Vec<Emitted>,
}

struct BuiltTx {
    plan: Plan,
    envelope: TransactionEnvelope,
    hash: [u8; 32],
    result: TransactionResult,
    fee_changes: LedgerEntryChanges,
    before_changes: LedgerEntryChanges,
    ops: Vec<BuiltOp>,
    charge: Emitted,
    refund: Option<Emitted>,
    refund_changes: LedgerEntryChanges,
}

/// One generated ledger.
pub struct GeneratedLedger {
    /// The ledger.
    pub meta: LedgerCloseMeta,
    /// Token-transfer events in TTP order.
    pub expected: Vec<ExpectedEvent>,
}

/// Builds consecutive ledgers of one synthetic network.
pub struct LedgerBuilder {
    world: World,
    next_seq: u32,
    previous_hash: [u8; 32],
    txs_per_ledger: u32,
    fee_pool: i64,
    id_pool: u64,
}

impl LedgerBuilder {
    /// A network whose first ledger is `start`.
    pub fn new(seed: u64, network_id: [u8; 32], start: u32, txs_per_ledger: u32) -> Self {
        let world = World::new(seed, network_id, start);
        let previous_hash = Sha256::digest(format!("stellarflow genesis {seed} {start}")).into();
        LedgerBuilder {
            world,
            next_seq: start,
            previous_hash,
            txs_per_ledger,
            fee_pool: 0,
            id_pool: 1000,
        }
    }

    /// Builds the next ledger.
    pub(crate) fn next_ledger(&mut self) -> GeneratedLedger {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.world.ledger = seq;
        for account in &mut self.world.accounts {
            account.busy = false;
        }
        let mut plans: Vec<Plan> = (0..self.txs_per_ledger).map(|_| self.plan()).collect();
        // Core applies the classic phase, then the Soroban phase.
        plans.sort_by_key(|p| p.kind.soroban());

        // Fees of every transaction are charged before any applies.
        let mut charged = Vec::with_capacity(plans.len());
        for plan in plans {
            let mut journal = Journal::default();
            self.world
                .adjust(&mut journal, plan.fee_source, AssetRef::Native, -plan.fee);
            let charge = fee_event(&self.world, plan.fee_source, i128::from(plan.fee));
            charged.push((plan, journal.finish(&self.world), charge));
        }
        let mut built: Vec<BuiltTx> = charged
            .into_iter()
            .map(|(plan, fee_changes, charge)| self.apply(plan, fee_changes, charge))
            .collect();
        // Protocol 23: Soroban refunds after all transactions.
        for tx in &mut built {
            if tx.plan.refund > 0 {
                let mut journal = Journal::default();
                self.world.adjust(
                    &mut journal,
                    tx.plan.fee_source,
                    AssetRef::Native,
                    tx.plan.refund,
                );
                tx.refund_changes = journal.finish(&self.world);
                tx.refund = Some(fee_event(
                    &self.world,
                    tx.plan.fee_source,
                    -i128::from(tx.plan.refund),
                ));
            }
        }
        self.assemble(seq, built)
    }

    fn pick_base(&mut self) -> usize {
        self.world.rng.random_range(0..self.world.base_accounts)
    }

    fn pick_other(&mut self, not: usize) -> usize {
        loop {
            let other = self.pick_base();
            if other != not {
                return other;
            }
        }
    }

    fn pick_kind(&mut self) -> Kind {
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        let mut roll = self.world.rng.random_range(0..total);
        for (kind, weight) in MIX {
            if roll < *weight {
                return *kind;
            }
            roll -= weight;
        }
        Kind::NativePayment
    }

    fn memo(&mut self) -> Memo {
        match self.world.rng.random_range(0..20) {
            0..=13 => Memo::None,
            14 | 15 => Memo::Id(self.world.rng.random_range(1..1_000_000)),
            16 | 17 => {
                let text = format!("invoice {}", self.world.rng.random_range(1..100_000));
                Memo::Text(text.try_into().unwrap_or_default())
            }
            18 => Memo::Hash(Hash(self.world.rng.random())),
            _ => Memo::Return(Hash(self.world.rng.random())),
        }
    }

    fn plan(&mut self) -> Plan {
        let (kind, source, target) = self.pick_work();
        let ops = if kind == Kind::MultiPayment { 2 } else { 1 };
        let fee_source = if kind == Kind::FeeBump {
            self.pick_other(source)
        } else {
            source
        };
        let (fee, refund, resource_fee) = if kind.soroban() {
            let resource_fee = self.world.rng.random_range(20_000..200_000);
            let refund = self.world.rng.random_range(0..resource_fee / 2);
            (resource_fee + BASE_FEE, refund, resource_fee)
        } else if kind == Kind::FeeBump {
            (BASE_FEE * (ops + 1), 0, 0)
        } else {
            (BASE_FEE * ops, 0, 0)
        };
        let memo = if kind.soroban() {
            Memo::None
        } else {
            self.memo()
        };
        Plan {
            kind,
            source,
            fee_source,
            fee,
            refund,
            resource_fee,
            memo,
            target,
        }
    }

    /// Picks what to do and who does it; kinds that need something to exist
    /// (a created account to merge, a balance to claim, pool shares) fall
    /// back to the kind that creates it.
    fn pick_work(&mut self) -> (Kind, usize, Option<[u8; 32]>) {
        match self.pick_kind() {
            Kind::AccountMerge => {
                let candidates: Vec<usize> = (0..self.world.accounts.len())
                    .filter(|i| {
                        let a = &self.world.accounts[*i];
                        a.created && a.alive && !a.busy
                    })
                    .collect();
                if candidates.is_empty() {
                    return (Kind::CreateAccount, self.pick_base(), None);
                }
                let pick = candidates[self.world.rng.random_range(0..candidates.len())];
                self.world.accounts[pick].busy = true;
                (Kind::AccountMerge, pick, None)
            }
            Kind::ClaimClaimable => {
                let open: Vec<[u8; 32]> = self
                    .world
                    .claimables
                    .iter()
                    .filter(|(_, c)| !self.world.accounts[c.claimant].busy)
                    .map(|(id, _)| *id)
                    .collect();
                if open.is_empty() {
                    return (Kind::CreateClaimable, self.pick_base(), None);
                }
                let id = open[self.world.rng.random_range(0..open.len())];
                let claimant = self.world.claimables[&id].claimant;
                // One claim per claimant per ledger keeps balances unambiguous.
                self.world.accounts[claimant].busy = true;
                (Kind::ClaimClaimable, claimant, Some(id))
            }
            Kind::PoolWithdraw => {
                let holders: Vec<usize> = self
                    .world
                    .pool_shares
                    .iter()
                    .filter(|((_, pool), shares)| *pool == 0 && **shares > 0)
                    .map(|((account, _), _)| *account)
                    .collect();
                if holders.is_empty() {
                    return (Kind::PoolDeposit, self.pick_base(), None);
                }
                (
                    Kind::PoolWithdraw,
                    holders[self.world.rng.random_range(0..holders.len())],
                    None,
                )
            }
            Kind::Clawback => (Kind::Clawback, self.world.assets[1].issuer, None),
            Kind::SacMint => (Kind::SacMint, self.world.assets[0].issuer, None),
            kind => (kind, self.pick_base(), None),
        }
    }

    fn apply(&mut self, plan: Plan, fee_changes: LedgerEntryChanges, charge: Emitted) -> BuiltTx {
        let mut journal = Journal::default();
        let seq = self.world.bump_seq(&mut journal, plan.source);
        let before_changes = journal.finish(&self.world);
        let ops: Vec<BuiltOp> = match plan.kind {
            Kind::NativePayment | Kind::FeeBump => {
                vec![self.payment(&plan, AssetRef::Native, None)]
            }
            Kind::CreditPayment => {
                let asset = AssetRef::Credit(self.world.rng.random_range(0..3));
                vec![self.payment(&plan, asset, None)]
            }
            Kind::IssuerPayment => {
                let asset = AssetRef::Credit(self.world.rng.random_range(0..3));
                let issuer = match asset {
                    AssetRef::Credit(i) => self.world.assets[i].issuer,
                    AssetRef::Native => plan.source,
                };
                vec![self.payment(&plan, asset, Some(issuer))]
            }
            Kind::PaymentToIssuer => vec![self.payment_to_issuer(&plan)],
            Kind::MultiPayment => vec![
                self.payment(&plan, AssetRef::Native, None),
                self.payment(&plan, AssetRef::Credit(0), None),
            ],
            Kind::PathSend => vec![self.path_payment(&plan, true)],
            Kind::PathReceive => vec![self.path_payment(&plan, false)],
            Kind::CreateAccount => vec![self.create_account(&plan)],
            Kind::AccountMerge => vec![self.merge(&plan)],
            Kind::CreateClaimable => vec![self.create_claimable(&plan, seq)],
            Kind::ClaimClaimable => vec![self.claim(&plan)],
            Kind::PoolDeposit => vec![self.deposit(&plan)],
            Kind::PoolWithdraw => vec![self.withdraw(&plan)],
            Kind::Clawback => vec![self.clawback()],
            Kind::Failed => vec![self.failed_payment(&plan)],
            Kind::SacTransfer
            | Kind::SacMint
            | Kind::SacBurn
            | Kind::CustomTransfer
            | Kind::CustomMint => {
                vec![self.invoke(&plan)]
            }
        };
        let failed = plan.kind == Kind::Failed;
        let envelope = self.envelope(&plan, seq, &ops);
        let hash = envelope.hash(self.world.network_id).unwrap_or_default();
        let results: Vec<OperationResult> = ops.iter().map(|o| o.result.clone()).collect();
        let result = if failed {
            TransactionResultResult::TxFailed(results.try_into().unwrap_or_default())
        } else if let TransactionEnvelope::TxFeeBump(fb) = &envelope {
            let FeeBumpTransactionInnerTx::Tx(inner) = &fb.tx.inner_tx;
            TransactionResultResult::TxFeeBumpInnerSuccess(InnerTransactionResultPair {
                transaction_hash: Hash(inner.hash(self.world.network_id).unwrap_or_default()),
                result: InnerTransactionResult {
                    fee_charged: 0,
                    result: InnerTransactionResultResult::TxSuccess(
                        results.try_into().unwrap_or_default(),
                    ),
                    ext: InnerTransactionResultExt::V0,
                },
            })
        } else {
            TransactionResultResult::TxSuccess(results.try_into().unwrap_or_default())
        };
        BuiltTx {
            result: TransactionResult {
                fee_charged: plan.fee - plan.refund,
                result,
                ext: TransactionResultExt::V0,
            },
            plan,
            envelope,
            hash,
            fee_changes,
            before_changes,
            ops: if failed { Vec::new() } else { ops },
            charge,
            refund: None,
            refund_changes: LedgerEntryChanges(Default::default()),
        }
    }

    fn muxed_for(&self, dest_mux: Option<u64>, memo: &Memo) -> Option<Muxed> {
        if let Some(id) = dest_mux {
            return Some(Muxed::Id(id));
        }
        match memo {
            Memo::None => None,
            Memo::Id(id) => Some(Muxed::Id(*id)),
            Memo::Text(text) => Some(Muxed::Text(text.to_utf8_string_lossy())),
            Memo::Hash(h) | Memo::Return(h) => Some(Muxed::Hash(h.0)),
        }
    }

    fn muxed_account(&mut self, account: usize, allow_mux: bool) -> (MuxedAccount, Option<u64>) {
        let key = Uint256(self.world.accounts[account].key);
        if allow_mux && self.world.rng.random_range(0..6) == 0 {
            let id = self.world.rng.random_range(1..u64::MAX / 2);
            (
                MuxedAccount::MuxedEd25519(MuxedAccountMed25519 { id, ed25519: key }),
                Some(id),
            )
        } else {
            (MuxedAccount::Ed25519(key), None)
        }
    }

    fn finish(
        &self,
        journal: Journal,
        op: Operation,
        result: OperationResultTr,
        events: Vec<Emitted>,
    ) -> BuiltOp {
        BuiltOp {
            op,
            result: OperationResult::OpInner(result),
            changes: journal.finish(&self.world),
            events,
        }
    }

    /// A payment from the tx source (or `op_source`) to a base account.
    fn payment(&mut self, plan: &Plan, asset: AssetRef, op_source: Option<usize>) -> BuiltOp {
        let from = op_source.unwrap_or(plan.source);
        let to = self.pick_other(from);
        let (destination, mux) = self.muxed_account(to, true);
        let amount = self.world.rng.random_range(1_000_000..100_000_000_000);
        let mut journal = Journal::default();
        self.world.adjust(&mut journal, from, asset, -amount);
        self.world.adjust(&mut journal, to, asset, amount);
        let muxed = self.muxed_for(mux, &plan.memo);
        let event = classic_move(
            &self.world,
            self.world.address(from),
            self.world.address(to),
            asset,
            amount,
            muxed,
        );
        let op = Operation {
            source_account: op_source
                .map(|s| MuxedAccount::Ed25519(Uint256(self.world.accounts[s].key))),
            body: OperationBody::Payment(PaymentOp {
                destination,
                asset: self.world.asset(asset),
                amount,
            }),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::Payment(PaymentResult::Success),
            vec![event],
        )
    }

    fn payment_to_issuer(&mut self, plan: &Plan) -> BuiltOp {
        let asset_index = self.world.rng.random_range(0..3);
        let asset = AssetRef::Credit(asset_index);
        let issuer = self.world.assets[asset_index].issuer;
        let amount = self.world.rng.random_range(1_000_000..10_000_000_000);
        let mut journal = Journal::default();
        self.world.adjust(&mut journal, plan.source, asset, -amount);
        let event = classic_move(
            &self.world,
            self.world.address(plan.source),
            self.world.address(issuer),
            asset,
            amount,
            None,
        );
        let op = Operation {
            source_account: None,
            body: OperationBody::Payment(PaymentOp {
                destination: MuxedAccount::Ed25519(Uint256(self.world.accounts[issuer].key)),
                asset: self.world.asset(asset),
                amount,
            }),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::Payment(PaymentResult::Success),
            vec![event],
        )
    }

    fn failed_payment(&mut self, plan: &Plan) -> BuiltOp {
        let to = self.pick_other(plan.source);
        let amount = self.world.accounts[plan.source].balance.saturating_add(1);
        BuiltOp {
            op: Operation {
                source_account: None,
                body: OperationBody::Payment(PaymentOp {
                    destination: MuxedAccount::Ed25519(Uint256(self.world.accounts[to].key)),
                    asset: stellar_xdr::Asset::Native,
                    amount,
                }),
            },
            result: OperationResult::OpInner(OperationResultTr::Payment(
                PaymentResult::Underfunded,
            )),
            changes: LedgerEntryChanges(Default::default()),
            events: Vec::new(),
        }
    }

    /// XLM → USDC through pool 0, strict send or strict receive.
    fn path_payment(&mut self, plan: &Plan, strict_send: bool) -> BuiltOp {
        let to = self.pick_other(plan.source);
        let (destination, mux) = self.muxed_account(to, true);
        let pool = &self.world.pools[0];
        let (ra, rb) = (i128::from(pool.reserve_a), i128::from(pool.reserve_b));
        let (sent, received) = if strict_send {
            let sent = self.world.rng.random_range(10_000_000..1_000_000_000i64);
            let s = i128::from(sent);
            (sent, (rb * s * 997 / (ra * 1000 + s * 997)) as i64)
        } else {
            let received = self.world.rng.random_range(10_000_000..1_000_000_000i64);
            let r = i128::from(received);
            (((ra * r * 1000) / ((rb - r) * 997) + 1) as i64, received)
        };
        let pool_id = PoolId(Hash(self.world.pools[0].id));
        let mut journal = Journal::default();
        self.world
            .adjust(&mut journal, plan.source, AssetRef::Native, -sent);
        journal.touch(&self.world, EntryKey::Pool(0));
        let ledger = self.world.ledger;
        let pool = &mut self.world.pools[0];
        pool.reserve_a += sent;
        pool.reserve_b -= received;
        pool.last_modified = ledger;
        self.world
            .adjust(&mut journal, to, AssetRef::Credit(0), received);
        let pool_address = ScAddress::LiquidityPool(pool_id.clone());
        let source = self.world.address(plan.source);
        let muxed = self.muxed_for(mux, &plan.memo);
        // Core's CAP-67 order: the taker pays the pool, then the pool pays.
        let events = vec![
            classic_move(
                &self.world,
                source.clone(),
                pool_address.clone(),
                AssetRef::Native,
                sent,
                None,
            ),
            classic_move(
                &self.world,
                pool_address,
                source.clone(),
                AssetRef::Credit(0),
                received,
                None,
            ),
            classic_move(
                &self.world,
                source,
                self.world.address(to),
                AssetRef::Credit(0),
                received,
                muxed,
            ),
        ];
        let atom = ClaimAtom::LiquidityPool(ClaimLiquidityAtom {
            liquidity_pool_id: pool_id,
            asset_sold: self.world.asset(AssetRef::Credit(0)),
            amount_sold: received,
            asset_bought: stellar_xdr::Asset::Native,
            amount_bought: sent,
        });
        let last = SimplePaymentResult {
            destination: self.world.account_id(to),
            asset: self.world.asset(AssetRef::Credit(0)),
            amount: received,
        };
        let offers = vec![atom].try_into().unwrap_or_default();
        let (body, result) = if strict_send {
            (
                OperationBody::PathPaymentStrictSend(PathPaymentStrictSendOp {
                    send_asset: stellar_xdr::Asset::Native,
                    send_amount: sent,
                    destination,
                    dest_asset: self.world.asset(AssetRef::Credit(0)),
                    dest_min: 1,
                    path: Default::default(),
                }),
                OperationResultTr::PathPaymentStrictSend(PathPaymentStrictSendResult::Success(
                    PathPaymentStrictSendResultSuccess { offers, last },
                )),
            )
        } else {
            (
                OperationBody::PathPaymentStrictReceive(PathPaymentStrictReceiveOp {
                    send_asset: stellar_xdr::Asset::Native,
                    send_max: sent * 2,
                    destination,
                    dest_asset: self.world.asset(AssetRef::Credit(0)),
                    dest_amount: received,
                    path: Default::default(),
                }),
                OperationResultTr::PathPaymentStrictReceive(
                    PathPaymentStrictReceiveResult::Success(
                        PathPaymentStrictReceiveResultSuccess { offers, last },
                    ),
                ),
            )
        };
        self.finish(
            journal,
            Operation {
                source_account: None,
                body,
            },
            result,
            events,
        )
    }

    fn create_account(&mut self, plan: &Plan) -> BuiltOp {
        let key: [u8; 32] = self.world.rng.random();
        let starting = self.world.rng.random_range(100_000_000..10_000_000_000i64);
        let index = self.world.accounts.len();
        let mut journal = Journal::default();
        self.world
            .adjust(&mut journal, plan.source, AssetRef::Native, -starting);
        journal.touch(&self.world, EntryKey::Account(index));
        self.world.accounts.push(super::state::AccountState {
            key,
            balance: starting,
            seq: i64::from(self.world.ledger) << 32,
            last_modified: self.world.ledger,
            alive: true,
            created: true,
            busy: true,
        });
        let muxed = self.muxed_for(None, &plan.memo);
        let event = classic_move(
            &self.world,
            self.world.address(plan.source),
            self.world.address(index),
            AssetRef::Native,
            starting,
            muxed,
        );
        let op = Operation {
            source_account: None,
            body: OperationBody::CreateAccount(CreateAccountOp {
                destination: account_id(key),
                starting_balance: starting,
            }),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::CreateAccount(CreateAccountResult::Success),
            vec![event],
        )
    }

    fn merge(&mut self, plan: &Plan) -> BuiltOp {
        let to = self.pick_base();
        let (destination, mux) = self.muxed_account(to, true);
        let balance = self.world.accounts[plan.source].balance;
        let mut journal = Journal::default();
        journal.touch(&self.world, EntryKey::Account(plan.source));
        self.world
            .adjust(&mut journal, to, AssetRef::Native, balance);
        self.world.accounts[plan.source].alive = false;
        self.world.accounts[plan.source].balance = 0;
        let muxed = self.muxed_for(mux, &plan.memo);
        let event = classic_move(
            &self.world,
            self.world.address(plan.source),
            self.world.address(to),
            AssetRef::Native,
            balance,
            muxed,
        );
        let op = Operation {
            source_account: None,
            body: OperationBody::AccountMerge(destination),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::AccountMerge(AccountMergeResult::Success(balance)),
            vec![event],
        )
    }

    fn create_claimable(&mut self, plan: &Plan, seq: i64) -> BuiltOp {
        let asset = match self.world.rng.random_range(0..4) {
            0 => AssetRef::Native,
            n => AssetRef::Credit(n - 1),
        };
        // Sometimes the issuer itself locks up funds: a mint into the balance.
        let issuer_op = match asset {
            AssetRef::Credit(i) if self.world.rng.random_range(0..4) == 0 => {
                Some(self.world.assets[i].issuer)
            }
            _ => None,
        };
        let from = issuer_op.unwrap_or(plan.source);
        let claimant = self.pick_other(plan.source);
        let amount = self.world.rng.random_range(1_000_000..1_000_000_000);
        let preimage = HashIdPreimage::OpId(HashIdPreimageOperationId {
            source_account: self.world.account_id(plan.source),
            seq_num: SequenceNumber(seq),
            op_num: 0,
        });
        let id = hash_xdr(&preimage);
        let mut journal = Journal::default();
        self.world.adjust(&mut journal, from, asset, -amount);
        journal.touch(&self.world, EntryKey::Claimable(id));
        self.world.claimables.insert(
            id,
            super::state::ClaimableState {
                asset,
                amount,
                claimant,
                last_modified: self.world.ledger,
            },
        );
        let balance_id = ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id));
        let event = classic_move(
            &self.world,
            self.world.address(from),
            ScAddress::ClaimableBalance(balance_id.clone()),
            asset,
            amount,
            None,
        );
        let op = Operation {
            source_account: issuer_op
                .map(|s| MuxedAccount::Ed25519(Uint256(self.world.accounts[s].key))),
            body: OperationBody::CreateClaimableBalance(CreateClaimableBalanceOp {
                asset: self.world.asset(asset),
                amount,
                claimants: vec![Claimant::ClaimantTypeV0(ClaimantV0 {
                    destination: self.world.account_id(claimant),
                    predicate: ClaimPredicate::Unconditional,
                })]
                .try_into()
                .unwrap_or_default(),
            }),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::CreateClaimableBalance(CreateClaimableBalanceResult::Success(
                balance_id,
            )),
            vec![event],
        )
    }

    fn claim(&mut self, plan: &Plan) -> BuiltOp {
        let id = plan.target.unwrap_or_default();
        let (asset, amount) = {
            let c = &self.world.claimables[&id];
            (c.asset, c.amount)
        };
        let mut journal = Journal::default();
        journal.touch(&self.world, EntryKey::Claimable(id));
        self.world.claimables.remove(&id);
        self.world.adjust(&mut journal, plan.source, asset, amount);
        let balance_id = ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id));
        let muxed = self.muxed_for(None, &plan.memo);
        let event = classic_move(
            &self.world,
            ScAddress::ClaimableBalance(balance_id.clone()),
            self.world.address(plan.source),
            asset,
            amount,
            muxed,
        );
        let op = Operation {
            source_account: None,
            body: OperationBody::ClaimClaimableBalance(ClaimClaimableBalanceOp { balance_id }),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::ClaimClaimableBalance(ClaimClaimableBalanceResult::Success),
            vec![event],
        )
    }

    fn deposit(&mut self, plan: &Plan) -> BuiltOp {
        let amount_a = self.world.rng.random_range(10_000_000..1_000_000_000i64);
        let pool = &self.world.pools[0];
        let amount_b =
            (i128::from(amount_a) * i128::from(pool.reserve_b) / i128::from(pool.reserve_a)) as i64;
        let shares =
            (i128::from(amount_a) * i128::from(pool.shares) / i128::from(pool.reserve_a)) as i64;
        let pool_id = PoolId(Hash(pool.id));
        let mut journal = Journal::default();
        self.world
            .adjust(&mut journal, plan.source, AssetRef::Native, -amount_a);
        self.world
            .adjust(&mut journal, plan.source, AssetRef::Credit(0), -amount_b);
        journal.touch(&self.world, EntryKey::Pool(0));
        let ledger = self.world.ledger;
        let pool = &mut self.world.pools[0];
        pool.reserve_a += amount_a;
        pool.reserve_b += amount_b;
        pool.shares += shares;
        pool.last_modified = ledger;
        *self.world.pool_shares.entry((plan.source, 0)).or_insert(0) += shares;
        let source = self.world.address(plan.source);
        let pool_address = ScAddress::LiquidityPool(pool_id.clone());
        let events = vec![
            classic_move(
                &self.world,
                source.clone(),
                pool_address.clone(),
                AssetRef::Native,
                amount_a,
                None,
            ),
            classic_move(
                &self.world,
                source,
                pool_address,
                AssetRef::Credit(0),
                amount_b,
                None,
            ),
        ];
        let op = Operation {
            source_account: None,
            body: OperationBody::LiquidityPoolDeposit(LiquidityPoolDepositOp {
                liquidity_pool_id: pool_id,
                max_amount_a: amount_a,
                max_amount_b: amount_b + 1,
                min_price: Price { n: 1, d: 2 },
                max_price: Price { n: 2, d: 1 },
            }),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::LiquidityPoolDeposit(LiquidityPoolDepositResult::Success),
            events,
        )
    }

    fn withdraw(&mut self, plan: &Plan) -> BuiltOp {
        let held = self
            .world
            .pool_shares
            .get(&(plan.source, 0))
            .copied()
            .unwrap_or(0);
        let shares = (held / 2).max(1);
        let pool = &self.world.pools[0];
        let amount_a =
            (i128::from(shares) * i128::from(pool.reserve_a) / i128::from(pool.shares)) as i64;
        let amount_b =
            (i128::from(shares) * i128::from(pool.reserve_b) / i128::from(pool.shares)) as i64;
        let pool_id = PoolId(Hash(pool.id));
        let mut journal = Journal::default();
        journal.touch(&self.world, EntryKey::Pool(0));
        let ledger = self.world.ledger;
        let pool = &mut self.world.pools[0];
        pool.reserve_a -= amount_a;
        pool.reserve_b -= amount_b;
        pool.shares -= shares;
        pool.last_modified = ledger;
        *self.world.pool_shares.entry((plan.source, 0)).or_insert(0) -= shares;
        self.world
            .adjust(&mut journal, plan.source, AssetRef::Native, amount_a);
        self.world
            .adjust(&mut journal, plan.source, AssetRef::Credit(0), amount_b);
        let source = self.world.address(plan.source);
        let pool_address = ScAddress::LiquidityPool(pool_id.clone());
        let muxed = self.muxed_for(None, &plan.memo);
        let events = vec![
            classic_move(
                &self.world,
                pool_address.clone(),
                source.clone(),
                AssetRef::Native,
                amount_a,
                muxed.clone(),
            ),
            classic_move(
                &self.world,
                pool_address,
                source,
                AssetRef::Credit(0),
                amount_b,
                muxed,
            ),
        ];
        let op = Operation {
            source_account: None,
            body: OperationBody::LiquidityPoolWithdraw(LiquidityPoolWithdrawOp {
                liquidity_pool_id: pool_id,
                amount: shares,
                min_amount_a: 0,
                min_amount_b: 0,
            }),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::LiquidityPoolWithdraw(LiquidityPoolWithdrawResult::Success),
            events,
        )
    }

    fn clawback(&mut self) -> BuiltOp {
        let holder = self.pick_base();
        let asset = AssetRef::Credit(1);
        let amount = self.world.rng.random_range(1_000_000..100_000_000);
        let mut journal = Journal::default();
        self.world.adjust(&mut journal, holder, asset, -amount);
        let event = sac_event(
            &self.world,
            "clawback",
            Some(self.world.address(holder)),
            None,
            asset,
            i128::from(amount),
            None,
        );
        let op = Operation {
            source_account: None,
            body: OperationBody::Clawback(ClawbackOp {
                asset: self.world.asset(asset),
                from: MuxedAccount::Ed25519(Uint256(self.world.accounts[holder].key)),
                amount,
            }),
        };
        self.finish(
            journal,
            op,
            OperationResultTr::Clawback(ClawbackResult::Success),
            vec![event],
        )
    }

    /// Soroban: SAC transfer/mint/burn or the custom token.
    fn invoke(&mut self, plan: &Plan) -> BuiltOp {
        let mut journal = Journal::default();
        let source = plan.source;
        let (contract, function, args, events) = match plan.kind {
            Kind::SacTransfer => {
                let asset = if self.world.rng.random_bool(0.5) {
                    AssetRef::Native
                } else {
                    AssetRef::Credit(0)
                };
                let to = self.pick_other(source);
                let amount = self.world.rng.random_range(1_000_000..10_000_000_000i64);
                self.world.adjust(&mut journal, source, asset, -amount);
                self.world.adjust(&mut journal, to, asset, amount);
                let (from_a, to_a) = (self.world.address(source), self.world.address(to));
                let event = sac_event(
                    &self.world,
                    "transfer",
                    Some(from_a.clone()),
                    Some(to_a.clone()),
                    asset,
                    i128::from(amount),
                    None,
                );
                (
                    self.world.sac(asset),
                    "transfer",
                    vec![
                        ScVal::Address(from_a),
                        ScVal::Address(to_a),
                        i128_val(i128::from(amount)),
                    ],
                    vec![event],
                )
            }
            Kind::SacMint => {
                let to = self.pick_base();
                let amount = self.world.rng.random_range(1_000_000..10_000_000_000i64);
                self.world
                    .adjust(&mut journal, to, AssetRef::Credit(0), amount);
                let to_a = self.world.address(to);
                let event = sac_event(
                    &self.world,
                    "mint",
                    None,
                    Some(to_a.clone()),
                    AssetRef::Credit(0),
                    i128::from(amount),
                    None,
                );
                (
                    self.world.sac(AssetRef::Credit(0)),
                    "mint",
                    vec![ScVal::Address(to_a), i128_val(i128::from(amount))],
                    vec![event],
                )
            }
            Kind::SacBurn => {
                let amount = self.world.rng.random_range(1_000_000..1_000_000_000i64);
                self.world
                    .adjust(&mut journal, source, AssetRef::Credit(0), -amount);
                let from_a = self.world.address(source);
                let event = sac_event(
                    &self.world,
                    "burn",
                    Some(from_a.clone()),
                    None,
                    AssetRef::Credit(0),
                    i128::from(amount),
                    None,
                );
                (
                    self.world.sac(AssetRef::Credit(0)),
                    "burn",
                    vec![ScVal::Address(from_a), i128_val(i128::from(amount))],
                    vec![event],
                )
            }
            Kind::CustomMint => {
                let to = self.pick_base();
                // Beyond i64: amounts are i128 in contract events.
                let amount = i128::from(self.world.rng.random_range(1u64..u64::MAX)) << 16;
                self.token_adjust(&mut journal, to, amount, false);
                let event = custom_event(&self.world, "mint", None, Some(to), amount);
                (
                    self.world.token_contract,
                    "mint",
                    vec![ScVal::Address(self.world.address(to)), i128_val(amount)],
                    vec![event],
                )
            }
            _ => {
                let to = self.pick_other(source);
                let amount = i128::from(self.world.rng.random_range(1_000u64..1_000_000_000));
                let restore = self.world.rng.random_range(0..8) == 0;
                self.token_adjust(&mut journal, source, -amount, false);
                self.token_adjust(&mut journal, to, amount, restore);
                let event = custom_event(&self.world, "transfer", Some(source), Some(to), amount);
                (
                    self.world.token_contract,
                    "transfer",
                    vec![
                        ScVal::Address(self.world.address(source)),
                        ScVal::Address(self.world.address(to)),
                        i128_val(amount),
                    ],
                    vec![event],
                )
            }
        };
        let op = Operation {
            source_account: None,
            body: OperationBody::InvokeHostFunction(InvokeHostFunctionOp {
                host_function: HostFunction::InvokeContract(InvokeContractArgs {
                    contract_address: ScAddress::Contract(ContractId(Hash(contract))),
                    function_name: ScSymbol(function.try_into().unwrap_or_default()),
                    args: args.try_into().unwrap_or_default(),
                }),
                auth: Default::default(),
            }),
        };
        let result = OperationResultTr::InvokeHostFunction(InvokeHostFunctionResult::Success(
            Hash(hash_xdr(&ScVal::Void)),
        ));
        self.finish(journal, op, result, events)
    }

    fn token_adjust(&mut self, journal: &mut Journal, account: usize, delta: i128, restore: bool) {
        if restore {
            journal.restore(&self.world, EntryKey::TokenBalance(account));
        } else {
            journal.touch(&self.world, EntryKey::TokenBalance(account));
        }
        let ledger = self.world.ledger;
        let entry = self
            .world
            .token_balances
            .entry(account)
            .or_insert((0, ledger));
        entry.0 += delta;
        entry.1 = ledger;
    }

    fn envelope(&mut self, plan: &Plan, seq: i64, ops: &[BuiltOp]) -> TransactionEnvelope {
        let key = self.world.accounts[plan.source].key;
        let source_account =
            if plan.kind == Kind::NativePayment && self.world.rng.random_range(0..10) == 0 {
                MuxedAccount::MuxedEd25519(MuxedAccountMed25519 {
                    id: self.world.rng.random_range(1..1000),
                    ed25519: Uint256(key),
                })
            } else {
                MuxedAccount::Ed25519(Uint256(key))
            };
        let ext = if plan.kind.soroban() {
            let read_write: Vec<_> = ops
                .iter()
                .flat_map(|o| o.changes.0.iter())
                .filter_map(|c| match c {
                    stellar_xdr::LedgerEntryChange::Updated(e)
                    | stellar_xdr::LedgerEntryChange::Created(e) => Some(e.to_key()),
                    _ => None,
                })
                .collect();
            TransactionExt::V1(SorobanTransactionData {
                ext: SorobanTransactionDataExt::V0,
                resources: SorobanResources {
                    footprint: LedgerFootprint {
                        read_only: Default::default(),
                        read_write: read_write.try_into().unwrap_or_default(),
                    },
                    instructions: self.world.rng.random_range(1_000_000..10_000_000),
                    disk_read_bytes: 1024,
                    write_bytes: 512,
                },
                resource_fee: plan.resource_fee,
            })
        } else {
            TransactionExt::V0
        };
        let inner_ops = if plan.kind == Kind::FeeBump {
            ops.len() as i64 + 1
        } else {
            ops.len() as i64
        };
        let tx = Transaction {
            source_account,
            fee: (plan.fee.max(BASE_FEE * inner_ops)) as u32,
            seq_num: SequenceNumber(seq),
            cond: Preconditions::None,
            memo: plan.memo.clone(),
            operations: ops
                .iter()
                .map(|o| o.op.clone())
                .collect::<Vec<_>>()
                .try_into()
                .unwrap_or_default(),
            ext,
        };
        let inner = TransactionV1Envelope {
            tx,
            signatures: self.signatures(plan.source),
        };
        if plan.kind == Kind::FeeBump {
            TransactionEnvelope::TxFeeBump(FeeBumpTransactionEnvelope {
                tx: FeeBumpTransaction {
                    fee_source: MuxedAccount::Ed25519(Uint256(
                        self.world.accounts[plan.fee_source].key,
                    )),
                    fee: plan.fee * 2,
                    inner_tx: FeeBumpTransactionInnerTx::Tx(inner),
                    ext: FeeBumpTransactionExt::V0,
                },
                signatures: self.signatures(plan.fee_source),
            })
        } else {
            TransactionEnvelope::Tx(inner)
        }
    }

    fn signatures(&mut self, account: usize) -> stellar_xdr::VecM<DecoratedSignature, 20> {
        let key = self.world.accounts[account].key;
        let mut signature = [0u8; 64];
        self.world.rng.fill(&mut signature[..]);
        vec![DecoratedSignature {
            hint: SignatureHint([key[28], key[29], key[30], key[31]]),
            signature: Signature(signature.to_vec().try_into().unwrap_or_default()),
        }]
        .try_into()
        .unwrap_or_default()
    }

    fn assemble(&mut self, seq: u32, built: Vec<BuiltTx>) -> GeneratedLedger {
        let expected = expected_order(&built);
        let mut processing = Vec::with_capacity(built.len());
        let mut results = Vec::with_capacity(built.len());
        for tx in &built {
            let mut events = vec![TransactionEvent {
                stage: TransactionEventStage::BeforeAllTxs,
                event: tx.charge.event.clone(),
            }];
            if let Some(refund) = &tx.refund {
                events.push(TransactionEvent {
                    stage: TransactionEventStage::AfterAllTxs,
                    event: refund.event.clone(),
                });
            }
            let operations: Vec<OperationMetaV2> = tx
                .ops
                .iter()
                .map(|o| OperationMetaV2 {
                    ext: ExtensionPoint::V0,
                    changes: o.changes.clone(),
                    events: o
                        .events
                        .iter()
                        .map(|e| e.event.clone())
                        .collect::<Vec<_>>()
                        .try_into()
                        .unwrap_or_default(),
                })
                .collect();
            let meta = TransactionMeta::V4(TransactionMetaV4 {
                ext: ExtensionPoint::V0,
                tx_changes_before: tx.before_changes.clone(),
                operations: operations.try_into().unwrap_or_default(),
                tx_changes_after: LedgerEntryChanges(Default::default()),
                soroban_meta: tx.plan.kind.soroban().then_some(SorobanTransactionMetaV2 {
                    ext: SorobanTransactionMetaExt::V0,
                    return_value: Some(ScVal::Void),
                }),
                events: events.try_into().unwrap_or_default(),
                diagnostic_events: Default::default(),
            });
            let pair = TransactionResultPair {
                transaction_hash: Hash(tx.hash),
                result: tx.result.clone(),
            };
            results.push(pair.clone());
            self.fee_pool += tx.result.fee_charged;
            processing.push(TransactionResultMetaV1 {
                ext: ExtensionPoint::V0,
                result: pair,
                fee_processing: tx.fee_changes.clone(),
                tx_apply_processing: meta,
                post_tx_apply_fee_processing: tx.refund_changes.clone(),
            });
        }
        // Tx-set order is hash order within each phase, not apply order.
        let sorted = |soroban: bool| {
            let mut txs: Vec<(&[u8; 32], &TransactionEnvelope)> = built
                .iter()
                .filter(|t| t.plan.kind.soroban() == soroban)
                .map(|t| (&t.hash, &t.envelope))
                .collect();
            txs.sort_by_key(|(hash, _)| **hash);
            txs.into_iter().map(|(_, e)| e.clone()).collect::<Vec<_>>()
        };
        let classic = sorted(false);
        let soroban = sorted(true);
        let stages = if soroban.is_empty() {
            Vec::new()
        } else {
            vec![ParallelTxExecutionStage(
                vec![DependentTxCluster(soroban.try_into().unwrap_or_default())]
                    .try_into()
                    .unwrap_or_default(),
            )]
        };
        let tx_set = GeneralizedTransactionSet::V1(TransactionSetV1 {
            previous_ledger_hash: Hash(self.previous_hash),
            phases: vec![
                TransactionPhase::V0(
                    vec![TxSetComponent::TxsetCompTxsMaybeDiscountedFee(
                        TxSetComponentTxsMaybeDiscountedFee {
                            base_fee: Some(BASE_FEE),
                            txs: classic.try_into().unwrap_or_default(),
                        },
                    )]
                    .try_into()
                    .unwrap_or_default(),
                ),
                TransactionPhase::V1(ParallelTxsComponent {
                    base_fee: None,
                    execution_stages: stages.try_into().unwrap_or_default(),
                }),
            ]
            .try_into()
            .unwrap_or_default(),
        });
        self.id_pool += built.len() as u64;
        let header = LedgerHeader {
            ledger_version: PROTOCOL,
            previous_ledger_hash: Hash(self.previous_hash),
            scp_value: StellarValue {
                tx_set_hash: Hash(hash_xdr(&tx_set)),
                close_time: TimePoint(EPOCH + 5 * u64::from(seq)),
                upgrades: Default::default(),
                ext: StellarValueExt::Basic,
            },
            tx_set_result_hash: Hash(hash_xdr(&TransactionResultSet {
                results: results.try_into().unwrap_or_default(),
            })),
            bucket_list_hash: Hash(self.world.rng.random()),
            ledger_seq: seq,
            total_coins: 1_000_000_000_000_000_000,
            fee_pool: self.fee_pool,
            inflation_seq: 0,
            id_pool: self.id_pool,
            base_fee: BASE_FEE as u32,
            base_reserve: 5_000_000,
            max_tx_set_size: 1000,
            skip_list: [Hash([0; 32]), Hash([0; 32]), Hash([0; 32]), Hash([0; 32])],
            ext: LedgerHeaderExt::V0,
        };
        let hash = header_hash(&header);
        self.previous_hash = hash;
        let meta = LedgerCloseMeta::V2(LedgerCloseMetaV2 {
            ext: LedgerCloseMetaExt::V0,
            ledger_header: LedgerHeaderHistoryEntry {
                hash: Hash(hash),
                header,
                ext: LedgerHeaderHistoryEntryExt::V0,
            },
            tx_set,
            tx_processing: processing.try_into().unwrap_or_default(),
            upgrades_processing: Default::default(),
            scp_info: Default::default(),
            total_byte_size_of_live_soroban_state: 0,
            evicted_keys: Default::default(),
        });
        GeneratedLedger { meta, expected }
    }
}

/// TTP order: every charge first, then each transaction's operation events,
/// then (protocol 23+) every refund.
fn expected_order(built: &[BuiltTx]) -> Vec<ExpectedEvent> {
    let with_context = |e: &Emitted, index: usize, tx: &BuiltTx, op: Option<u32>| {
        let mut event = e.expected.clone();
        event.tx_hash = hex::encode(tx.hash);
        event.transaction_index = index as u32 + 1;
        event.operation_index = op;
        event
    };
    let mut out = Vec::new();
    for (i, tx) in built.iter().enumerate() {
        out.push(with_context(&tx.charge, i, tx, None));
    }
    for (i, tx) in built.iter().enumerate() {
        for (j, op) in tx.ops.iter().enumerate() {
            for event in &op.events {
                out.push(with_context(event, i, tx, Some(j as u32 + 1)));
            }
        }
    }
    for (i, tx) in built.iter().enumerate() {
        if let Some(refund) = &tx.refund {
            out.push(with_context(refund, i, tx, None));
        }
    }
    out
}
