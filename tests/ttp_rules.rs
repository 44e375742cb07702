//! The derived-mode rules the real fixtures do not exercise, each on a
//! small hand-built ledger: every case also passes `verify`, so the
//! expected events are checked against balance changes, not just typed in.

mod common;

use stellar_xdr::*;
use stellarflow::processor::ttp::contract_events::{self, Shape};
use stellarflow::processor::ttp::{self, EventKind, Mode, MuxedInfo, TtpEvent};
use stellarflow::stellar::address::{self, account_id, hash_xdr, sac_contract_id, Strkey};
use stellarflow::stellar::{LedgerView, Network};

fn network() -> Network {
    Network::parse("testnet").unwrap()
}

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

fn g(n: u8) -> Strkey {
    account_id(key(n)).to_string().into()
}

fn credit(code: &str, issuer: u8) -> Asset {
    address::parse_asset(&format!("{code}:{}", g(issuer))).unwrap()
}

fn account(n: u8, balance: i64) -> LedgerEntry {
    common::account_entry(account_id(key(n)), balance)
}

fn trustline(n: u8, asset: &Asset, balance: i64) -> LedgerEntry {
    let asset = match asset {
        Asset::CreditAlphanum4(a) => TrustLineAsset::CreditAlphanum4(a.clone()),
        Asset::CreditAlphanum12(a) => TrustLineAsset::CreditAlphanum12(a.clone()),
        Asset::Native => TrustLineAsset::Native,
    };
    LedgerEntry {
        last_modified_ledger_seq: 1,
        data: LedgerEntryData::Trustline(TrustLineEntry {
            account_id: account_id(key(n)),
            asset,
            balance,
            limit: i64::MAX,
            flags: 1,
            ext: TrustLineEntryExt::V0,
        }),
        ext: LedgerEntryExt::V0,
    }
}

fn pool_entry(id: [u8; 32], a: &Asset, b: &Asset, ra: i64, rb: i64) -> LedgerEntry {
    LedgerEntry {
        last_modified_ledger_seq: 1,
        data: LedgerEntryData::LiquidityPool(LiquidityPoolEntry {
            liquidity_pool_id: PoolId(Hash(id)),
            body: LiquidityPoolEntryBody::LiquidityPoolConstantProduct(
                LiquidityPoolEntryConstantProduct {
                    params: LiquidityPoolConstantProductParameters {
                        asset_a: a.clone(),
                        asset_b: b.clone(),
                        fee: 30,
                    },
                    reserve_a: ra,
                    reserve_b: rb,
                    total_pool_shares: 1000,
                    pool_shares_trust_line_count: 1,
                },
            ),
        }),
        ext: LedgerEntryExt::V0,
    }
}

fn cb_entry(id: [u8; 32], asset: &Asset, amount: i64, claimant: u8) -> LedgerEntry {
    LedgerEntry {
        last_modified_ledger_seq: 1,
        data: LedgerEntryData::ClaimableBalance(ClaimableBalanceEntry {
            balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)),
            claimants: vec![Claimant::ClaimantTypeV0(ClaimantV0 {
                destination: account_id(key(claimant)),
                predicate: ClaimPredicate::Unconditional,
            })]
            .try_into()
            .unwrap(),
            asset: asset.clone(),
            amount,
            ext: ClaimableBalanceEntryExt::V0,
        }),
        ext: LedgerEntryExt::V0,
    }
}

/// STATE then UPDATED.
fn moved(before: LedgerEntry, after: LedgerEntry) -> Vec<LedgerEntryChange> {
    vec![
        LedgerEntryChange::State(before),
        LedgerEntryChange::Updated(after),
    ]
}

fn changes(list: Vec<LedgerEntryChange>) -> LedgerEntryChanges {
    LedgerEntryChanges(list.try_into().unwrap())
}

fn op(source: Option<u8>, body: OperationBody) -> Operation {
    Operation {
        source_account: source.map(|n| MuxedAccount::Ed25519(Uint256(key(n)))),
        body,
    }
}

fn muxed(n: u8, id: Option<u64>) -> MuxedAccount {
    match id {
        Some(id) => MuxedAccount::MuxedEd25519(MuxedAccountMed25519 {
            id,
            ed25519: Uint256(key(n)),
        }),
        None => MuxedAccount::Ed25519(Uint256(key(n))),
    }
}

/// One transaction for a test ledger.
struct Tx {
    source: u8,
    seq: i64,
    memo: Memo,
    ops: Vec<Operation>,
    results: Vec<OperationResultTr>,
    op_changes: Vec<Vec<LedgerEntryChange>>,
}

const FEE: i64 = 100;

fn envelope(tx: &Tx) -> TransactionEnvelope {
    TransactionEnvelope::Tx(TransactionV1Envelope {
        tx: Transaction {
            source_account: muxed(tx.source, None),
            fee: FEE as u32,
            seq_num: SequenceNumber(tx.seq),
            cond: Preconditions::None,
            memo: tx.memo.clone(),
            operations: tx.ops.clone().try_into().unwrap(),
            ext: TransactionExt::V0,
        },
        signatures: Default::default(),
    })
}

/// A V0 ledger (TxMeta V2) of `protocol` holding `txs`; each fee is 100
/// stroops from a source that starts with 1,000,000.
fn ledger(protocol: u32, txs: &[Tx]) -> LedgerCloseMeta {
    let network = network();
    let mut envelopes = Vec::new();
    let mut processing = Vec::new();
    for tx in txs {
        let env = envelope(tx);
        let hash = env.hash(network.id).unwrap();
        envelopes.push(env);
        let results: Vec<OperationResult> = tx
            .results
            .iter()
            .cloned()
            .map(OperationResult::OpInner)
            .collect();
        processing.push(TransactionResultMeta {
            result: TransactionResultPair {
                transaction_hash: Hash(hash),
                result: TransactionResult {
                    fee_charged: FEE,
                    result: TransactionResultResult::TxSuccess(results.try_into().unwrap()),
                    ext: TransactionResultExt::V0,
                },
            },
            fee_processing: changes(moved(
                account(tx.source, 1_000_000),
                account(tx.source, 1_000_000 - FEE),
            )),
            tx_apply_processing: TransactionMeta::V2(TransactionMetaV2 {
                tx_changes_before: changes(vec![]),
                operations: tx
                    .op_changes
                    .iter()
                    .map(|c| OperationMeta {
                        changes: changes(c.clone()),
                    })
                    .collect::<Vec<_>>()
                    .try_into()
                    .unwrap(),
                tx_changes_after: changes(vec![]),
            }),
        });
    }
    common::v0_ledger(protocol, 777, 1_600_000_000, envelopes, processing)
}

/// Derived events of a test ledger, after checking them with `verify`.
fn derive(meta: &LedgerCloseMeta) -> Vec<TtpEvent> {
    let events = ttp::extract(meta, &network(), Mode::Derived).unwrap_or_else(|e| panic!("{e}"));
    ttp::verify::verify(&LedgerView::new(meta), &events).unwrap_or_else(|e| panic!("{e}"));
    events
}

/// (kind, from, to, asset, amount) of one event.
type Move = (
    EventKind,
    Option<Strkey>,
    Option<Strkey>,
    Option<String>,
    i128,
);

/// The operation events (fees dropped), as compact tuples.
fn moves(events: &[TtpEvent]) -> Vec<Move> {
    events
        .iter()
        .filter(|e| e.kind != EventKind::Fee)
        .map(|e| {
            (
                e.kind,
                e.from.clone(),
                e.to.clone(),
                e.asset_string(),
                e.amount,
            )
        })
        .collect()
}

fn payment(dest: MuxedAccount, asset: Asset, amount: i64) -> OperationBody {
    OperationBody::Payment(PaymentOp {
        destination: dest,
        asset,
        amount,
    })
}

fn ok_payment() -> OperationResultTr {
    OperationResultTr::Payment(PaymentResult::Success)
}

#[test]
fn inflation_mints_each_payout() {
    let payouts = vec![
        InflationPayout {
            destination: account_id(key(2)),
            amount: 300,
        },
        InflationPayout {
            destination: account_id(key(3)),
            amount: 50,
        },
    ];
    let tx = Tx {
        source: 1,
        seq: 5,
        memo: Memo::None,
        ops: vec![op(None, OperationBody::Inflation)],
        results: vec![OperationResultTr::Inflation(InflationResult::Success(
            payouts.try_into().unwrap(),
        ))],
        op_changes: vec![[
            moved(account(2, 1000), account(2, 1300)),
            moved(account(3, 10), account(3, 60)),
        ]
        .concat()],
    };
    let events = derive(&ledger(11, &[tx]));
    assert_eq!(
        moves(&events),
        vec![
            (
                EventKind::Mint,
                None,
                Some(g(2)),
                Some("native".into()),
                300
            ),
            (EventKind::Mint, None, Some(g(3)), Some("native".into()), 50),
        ]
    );
    assert_eq!(events[0].kind, EventKind::Fee);
    assert_eq!(events[1].operation_index, Some(1));
}

#[test]
fn issuer_payments_are_mints_and_burns() {
    let usd = credit("USD", 9);
    let tx = Tx {
        source: 1,
        seq: 5,
        memo: Memo::None,
        ops: vec![
            op(Some(9), payment(muxed(2, None), usd.clone(), 500)), // issuer → holder: mint
            op(Some(2), payment(muxed(9, None), usd.clone(), 200)), // holder → issuer: burn
            op(Some(9), payment(muxed(9, None), usd.clone(), 70)),  // issuer → issuer: transfer
            op(None, payment(muxed(2, None), Asset::Native, 40)),   // native: transfer
        ],
        results: vec![ok_payment(), ok_payment(), ok_payment(), ok_payment()],
        op_changes: vec![
            moved(trustline(2, &usd, 0), trustline(2, &usd, 500)),
            moved(trustline(2, &usd, 500), trustline(2, &usd, 300)),
            vec![],
            [
                moved(account(1, 999_900), account(1, 999_860)),
                moved(account(2, 0), account(2, 40)),
            ]
            .concat(),
        ],
    };
    let usd_s = Some(format!("USD:{}", g(9)));
    assert_eq!(
        moves(&derive(&ledger(19, &[tx]))),
        vec![
            (EventKind::Mint, None, Some(g(2)), usd_s.clone(), 500),
            (EventKind::Burn, Some(g(2)), None, usd_s.clone(), 200),
            (EventKind::Transfer, Some(g(9)), Some(g(9)), usd_s, 70),
            (
                EventKind::Transfer,
                Some(g(1)),
                Some(g(2)),
                Some("native".into()),
                40
            ),
        ]
    );
}

#[test]
fn twelve_character_codes_and_short_codes_stored_as_alphanum12() {
    let long = credit("STELLARFLOW1", 9);
    let tx = Tx {
        source: 1,
        seq: 5,
        memo: Memo::None,
        ops: vec![op(None, payment(muxed(2, None), long.clone(), 77))],
        results: vec![ok_payment()],
        op_changes: vec![[
            moved(trustline(1, &long, 100), trustline(1, &long, 23)),
            moved(trustline(2, &long, 0), trustline(2, &long, 77)),
        ]
        .concat()],
    };
    let events = derive(&ledger(19, &[tx]));
    let e = &events[1];
    assert_eq!(e.asset_string(), Some(format!("STELLARFLOW1:{}", g(9))));
    assert_eq!(
        address::asset_type(e.asset.as_ref().unwrap()),
        "credit_alphanum12"
    );
    assert_eq!(
        address::asset_code(e.asset.as_ref().unwrap()).as_deref(),
        Some("STELLARFLOW1")
    );

    // "ABC" stored as AlphaNum12 has a SAC id of its own; its SEP-11 string
    // parses as AlphaNum4, so the SAC check fails and the asset stays unknown.
    let mut raw = [0u8; 12];
    raw[..3].copy_from_slice(b"ABC");
    let as12 = Asset::CreditAlphanum12(AlphaNum12 {
        asset_code: AssetCode12(raw),
        issuer: account_id(key(9)),
    });
    let as4 = credit("ABC", 9);
    let event = |contract: [u8; 32]| sac_transfer(contract, &format!("ABC:{}", g(9)), 5);
    let net = network();
    assert!(
        contract_events::parse(&event(sac_contract_id(&as12, &net.id)), Shape::V4, &net.id)
            .unwrap()
            .asset
            .is_none()
    );
    assert_eq!(
        contract_events::parse(&event(sac_contract_id(&as4, &net.id)), Shape::V4, &net.id)
            .unwrap()
            .asset,
        Some(as4)
    );
}

#[test]
fn muxed_destinations_and_memos() {
    let usd = credit("USD", 9);
    let base = |memo: Memo, dest: MuxedAccount| Tx {
        source: 1,
        seq: 5,
        memo,
        ops: vec![op(None, payment(dest, Asset::Native, 10))],
        results: vec![ok_payment()],
        op_changes: vec![[
            moved(account(1, 999_900), account(1, 999_890)),
            moved(account(2, 0), account(2, 10)),
        ]
        .concat()],
    };
    let muxed_of = |tx: Tx| derive(&ledger(19, &[tx]))[1].to_muxed.clone();
    let text: StringM<28> = "invoice 7".try_into().unwrap();
    assert_eq!(
        muxed_of(base(Memo::Text(text.clone()), muxed(2, Some(42)))),
        Some(MuxedInfo::Id(42)),
        "an M destination wins over the memo"
    );
    assert_eq!(
        muxed_of(base(Memo::Text(text), muxed(2, None))),
        Some(MuxedInfo::Text("invoice 7".into()))
    );
    assert_eq!(
        muxed_of(base(Memo::Id(99), muxed(2, None))),
        Some(MuxedInfo::Id(99))
    );
    assert_eq!(
        muxed_of(base(Memo::Hash(Hash([7; 32])), muxed(2, None))),
        Some(MuxedInfo::Hash(vec![7; 32]))
    );
    assert_eq!(
        muxed_of(base(Memo::Return(Hash([8; 32])), muxed(2, None))),
        Some(MuxedInfo::Hash(vec![8; 32]))
    );
    assert_eq!(muxed_of(base(Memo::None, muxed(2, None))), None);
    // The destination is reported as its G account.
    let events = derive(&ledger(19, &[base(Memo::None, muxed(2, Some(5)))]));
    assert_eq!(events[1].to, Some(g(2)));
    // A burn (to the issuer) never carries muxed info.
    let burn = Tx {
        source: 2,
        seq: 5,
        memo: Memo::Id(3),
        ops: vec![op(None, payment(muxed(9, Some(4)), usd.clone(), 10))],
        results: vec![ok_payment()],
        op_changes: vec![moved(trustline(2, &usd, 50), trustline(2, &usd, 40))],
    };
    let events = derive(&ledger(19, &[burn]));
    assert_eq!(events[1].kind, EventKind::Burn);
    assert_eq!(events[1].to_muxed, None);
}

#[test]
fn liquidity_pool_deposit_and_withdraw() {
    let usd = credit("USD", 9);
    let pool = [4u8; 32];
    let l = address::pool(&PoolId(Hash(pool)));
    let deposit = Tx {
        source: 1,
        seq: 5,
        memo: Memo::None,
        ops: vec![op(
            None,
            OperationBody::LiquidityPoolDeposit(LiquidityPoolDepositOp {
                liquidity_pool_id: PoolId(Hash(pool)),
                max_amount_a: 100,
                max_amount_b: 100,
                min_price: Price { n: 1, d: 1 },
                max_price: Price { n: 1, d: 1 },
            }),
        )],
        results: vec![OperationResultTr::LiquidityPoolDeposit(
            LiquidityPoolDepositResult::Success,
        )],
        op_changes: vec![[
            moved(account(1, 999_900), account(1, 999_800)),
            moved(trustline(1, &usd, 500), trustline(1, &usd, 450)),
            moved(
                pool_entry(pool, &Asset::Native, &usd, 1000, 1000),
                pool_entry(pool, &Asset::Native, &usd, 1100, 1050),
            ),
        ]
        .concat()],
    };
    let usd_s = Some(format!("USD:{}", g(9)));
    assert_eq!(
        moves(&derive(&ledger(18, &[deposit]))),
        vec![
            (
                EventKind::Transfer,
                Some(g(1)),
                Some(l.clone()),
                Some("native".into()),
                100
            ),
            (
                EventKind::Transfer,
                Some(g(1)),
                Some(l.clone()),
                usd_s.clone(),
                50
            ),
        ]
    );
    let withdraw = Tx {
        source: 1,
        seq: 6,
        memo: Memo::Id(12),
        ops: vec![op(
            None,
            OperationBody::LiquidityPoolWithdraw(LiquidityPoolWithdrawOp {
                liquidity_pool_id: PoolId(Hash(pool)),
                amount: 10,
                min_amount_a: 0,
                min_amount_b: 0,
            }),
        )],
        results: vec![OperationResultTr::LiquidityPoolWithdraw(
            LiquidityPoolWithdrawResult::Success,
        )],
        op_changes: vec![[
            moved(
                pool_entry(pool, &Asset::Native, &usd, 1100, 1050),
                pool_entry(pool, &Asset::Native, &usd, 1000, 1000),
            ),
            moved(account(1, 999_900), account(1, 1_000_000)),
            moved(trustline(1, &usd, 450), trustline(1, &usd, 500)),
        ]
        .concat()],
    };
    let events = derive(&ledger(18, &[withdraw]));
    assert_eq!(
        moves(&events),
        vec![
            (
                EventKind::Transfer,
                Some(l.clone()),
                Some(g(1)),
                Some("native".into()),
                100
            ),
            (EventKind::Transfer, Some(l), Some(g(1)), usd_s, 50),
        ]
    );
    assert_eq!(events[1].to_muxed, Some(MuxedInfo::Id(12)));
    // A "deposit" whose reserves did not grow is an error, not a guess.
    let bad = Tx {
        source: 1,
        seq: 7,
        memo: Memo::None,
        ops: vec![op(
            None,
            OperationBody::LiquidityPoolDeposit(LiquidityPoolDepositOp {
                liquidity_pool_id: PoolId(Hash(pool)),
                max_amount_a: 1,
                max_amount_b: 1,
                min_price: Price { n: 1, d: 1 },
                max_price: Price { n: 1, d: 1 },
            }),
        )],
        results: vec![OperationResultTr::LiquidityPoolDeposit(
            LiquidityPoolDepositResult::Success,
        )],
        op_changes: vec![moved(
            pool_entry(pool, &Asset::Native, &usd, 10, 10),
            pool_entry(pool, &Asset::Native, &usd, 10, 10),
        )],
    };
    let err = ttp::extract(&ledger(18, &[bad]), &network(), Mode::Derived)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ledger 777") && err.contains("operation 1") && err.contains("did not grow"),
        "{err}"
    );
}

fn revoke_id(source: u8, seq: i64, pool: [u8; 32], asset: &Asset) -> [u8; 32] {
    hash_xdr(&HashIdPreimage::PoolRevokeOpId(HashIdPreimageRevokeId {
        source_account: account_id(key(source)),
        seq_num: SequenceNumber(seq),
        op_num: 0,
        liquidity_pool_id: PoolId(Hash(pool)),
        asset: asset.clone(),
    }))
}

fn revoke_op(trustor: u8, asset: &Asset) -> Operation {
    op(
        None,
        OperationBody::SetTrustLineFlags(SetTrustLineFlagsOp {
            trustor: account_id(key(trustor)),
            asset: asset.clone(),
            clear_flags: 1,
            set_flags: 0,
        }),
    )
}

#[test]
fn trust_revocation_moves_pool_shares_into_claimable_balances() {
    // Issuer 9 revokes holder 2's USD; holder 2 had shares in pool(native, USD).
    let usd = credit("USD", 9);
    let pool = [5u8; 32];
    let (cb_native, cb_usd) = (
        revoke_id(9, 40, pool, &Asset::Native),
        revoke_id(9, 40, pool, &usd),
    );
    let tx = Tx {
        source: 9,
        seq: 40,
        memo: Memo::None,
        ops: vec![revoke_op(2, &usd)],
        results: vec![OperationResultTr::SetTrustLineFlags(
            SetTrustLineFlagsResult::Success,
        )],
        op_changes: vec![[
            moved(
                pool_entry(pool, &Asset::Native, &usd, 1000, 2000),
                pool_entry(pool, &Asset::Native, &usd, 900, 1800),
            ),
            vec![LedgerEntryChange::Created(cb_entry(
                cb_native,
                &Asset::Native,
                100,
                2,
            ))],
            vec![LedgerEntryChange::Created(cb_entry(cb_usd, &usd, 200, 2))],
        ]
        .concat()],
    };
    let l = address::pool(&PoolId(Hash(pool)));
    let b =
        |id| address::claimable_balance(&ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)));
    assert_eq!(
        moves(&derive(&ledger(18, &[tx]))),
        vec![
            (
                EventKind::Transfer,
                Some(l.clone()),
                Some(b(cb_native)),
                Some("native".into()),
                100
            ),
            (
                EventKind::Transfer,
                Some(l),
                Some(b(cb_usd)),
                Some(format!("USD:{}", g(9))),
                200
            ),
        ]
    );
}

#[test]
fn trust_revocation_burns_the_asset_the_trustor_issued() {
    // Issuer 9 revokes account 3's USD; account 3 issued EUR and held
    // shares of pool(EUR, USD): no balance can hold its own EUR, so the
    // pool's EUR is burned.
    let (eur, usd) = (credit("EUR", 3), credit("USD", 9));
    let pool = [6u8; 32];
    let cb_usd = revoke_id(9, 41, pool, &usd);
    let tx = Tx {
        source: 9,
        seq: 41,
        memo: Memo::None,
        ops: vec![revoke_op(3, &usd)],
        results: vec![OperationResultTr::SetTrustLineFlags(
            SetTrustLineFlagsResult::Success,
        )],
        op_changes: vec![[
            moved(
                pool_entry(pool, &eur, &usd, 500, 800),
                pool_entry(pool, &eur, &usd, 450, 720),
            ),
            vec![LedgerEntryChange::Created(cb_entry(cb_usd, &usd, 80, 3))],
        ]
        .concat()],
    };
    let l = address::pool(&PoolId(Hash(pool)));
    let b = address::claimable_balance(&ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(cb_usd)));
    assert_eq!(
        moves(&derive(&ledger(18, &[tx]))),
        vec![
            (
                EventKind::Burn,
                Some(l.clone()),
                None,
                Some(format!("EUR:{}", g(3))),
                50
            ),
            (
                EventKind::Transfer,
                Some(l),
                Some(b),
                Some(format!("USD:{}", g(9))),
                80
            ),
        ]
    );
}

#[test]
fn pre_protocol_8_xlm_is_reconciled() {
    // The op source lost 150 but its events say 100: a burn of 50 follows.
    let lost_more = Tx {
        source: 1,
        seq: 5,
        memo: Memo::None,
        ops: vec![op(None, payment(muxed(2, None), Asset::Native, 100))],
        results: vec![ok_payment()],
        op_changes: vec![[
            moved(account(1, 999_900), account(1, 999_750)),
            moved(account(2, 0), account(2, 100)),
        ]
        .concat()],
    };
    let events = derive(&ledger(7, &[lost_more]));
    assert_eq!(
        moves(&events),
        vec![
            (
                EventKind::Transfer,
                Some(g(1)),
                Some(g(2)),
                Some("native".into()),
                100
            ),
            (EventKind::Burn, Some(g(1)), None, Some("native".into()), 50),
        ]
    );
    // It lost only 60: a mint of 40 comes first.
    let lost_less = Tx {
        source: 1,
        seq: 5,
        memo: Memo::None,
        ops: vec![op(None, payment(muxed(2, None), Asset::Native, 100))],
        results: vec![ok_payment()],
        op_changes: vec![[
            moved(account(1, 999_900), account(1, 999_840)),
            moved(account(2, 0), account(2, 100)),
        ]
        .concat()],
    };
    assert_eq!(
        moves(&derive(&ledger(7, &[lost_less]))),
        vec![
            (EventKind::Mint, None, Some(g(1)), Some("native".into()), 40),
            (
                EventKind::Transfer,
                Some(g(1)),
                Some(g(2)),
                Some("native".into()),
                100
            ),
        ]
    );
    // From protocol 8 on there is no reconciliation (and verify would fail).
    let tx = Tx {
        source: 1,
        seq: 5,
        memo: Memo::None,
        ops: vec![op(None, payment(muxed(2, None), Asset::Native, 100))],
        results: vec![ok_payment()],
        op_changes: vec![[
            moved(account(1, 999_900), account(1, 999_750)),
            moved(account(2, 0), account(2, 100)),
        ]
        .concat()],
    };
    let meta = ledger(8, &[tx]);
    let events = ttp::extract(&meta, &network(), Mode::Derived).unwrap();
    assert_eq!(moves(&events).len(), 1);
    let err = ttp::verify::verify(&LedgerView::new(&meta), &events).unwrap_err();
    // Per transaction, fees included: the entries lost 250, the events say 200.
    assert!(
        err.contains("ledger 777") && err.contains("events -200 vs entries -250"),
        "{err}"
    );
}

fn sym(s: &str) -> ScVal {
    ScVal::Symbol(ScSymbol(s.try_into().unwrap()))
}

fn text(s: &str) -> ScVal {
    ScVal::String(ScString(s.try_into().unwrap()))
}

fn addr(n: u8) -> ScVal {
    ScVal::Address(ScAddress::Account(account_id(key(n))))
}

fn i128v(v: i128) -> ScVal {
    ScVal::I128(Int128Parts {
        hi: (v >> 64) as i64,
        lo: v as u64,
    })
}

fn contract_event(contract: [u8; 32], topics: Vec<ScVal>, data: ScVal) -> ContractEvent {
    ContractEvent {
        ext: ExtensionPoint::V0,
        contract_id: Some(ContractId(Hash(contract))),
        type_: ContractEventType::Contract,
        body: ContractEventBody::V0(ContractEventV0 {
            topics: topics.try_into().unwrap(),
            data,
        }),
    }
}

fn sac_transfer(contract: [u8; 32], asset: &str, amount: i128) -> ContractEvent {
    contract_event(
        contract,
        vec![sym("transfer"), addr(1), addr(2), text(asset)],
        i128v(amount),
    )
}

#[test]
fn v3_meta_sac_events() {
    let net = network();
    let usd = credit("USD", 9);
    let usd_sac = sac_contract_id(&usd, &net.id);
    let usd_s = format!("USD:{}", g(9));
    let parse = |e: ContractEvent| contract_events::parse(&e, Shape::V3, &net.id).unwrap();
    // transfer [from, to, asset]
    let m = parse(sac_transfer(usd_sac, &usd_s, 5));
    assert_eq!(
        (m.kind, m.from.clone(), m.to.clone(), m.asset.clone()),
        (
            EventKind::Transfer,
            Some(g(1)),
            Some(g(2)),
            Some(usd.clone())
        )
    );
    // a V3 SAC transfer from or to the issuer is a mint or burn
    let from_issuer = contract_event(
        usd_sac,
        vec![sym("transfer"), addr(9), addr(2), text(&usd_s)],
        i128v(5),
    );
    let m = parse(from_issuer);
    assert_eq!((m.kind, m.from, m.to), (EventKind::Mint, None, Some(g(2))));
    let to_issuer = contract_event(
        usd_sac,
        vec![sym("transfer"), addr(2), addr(9), text(&usd_s)],
        i128v(5),
    );
    let m = parse(to_issuer);
    assert_eq!((m.kind, m.from, m.to), (EventKind::Burn, Some(g(2)), None));
    // mint [admin, to, asset], burn [from, asset], clawback [admin, from, asset]
    let m = parse(contract_event(
        usd_sac,
        vec![sym("mint"), addr(9), addr(3), text(&usd_s)],
        i128v(7),
    ));
    assert_eq!(
        (m.kind, m.to, m.asset.is_some()),
        (EventKind::Mint, Some(g(3)), true)
    );
    let m = parse(contract_event(
        usd_sac,
        vec![sym("burn"), addr(3), text(&usd_s)],
        i128v(7),
    ));
    assert_eq!(
        (m.kind, m.from, m.asset.is_some()),
        (EventKind::Burn, Some(g(3)), true)
    );
    let m = parse(contract_event(
        usd_sac,
        vec![sym("clawback"), addr(9), addr(4), text(&usd_s)],
        i128v(7),
    ));
    assert_eq!(
        (m.kind, m.from, m.asset.is_some()),
        (EventKind::Clawback, Some(g(4)), true)
    );
    // V3 data must be a plain i128: a V4 map is not accepted.
    let map = ScVal::Map(Some(ScMap(
        vec![ScMapEntry {
            key: sym("amount"),
            val: i128v(1),
        }]
        .try_into()
        .unwrap(),
    )));
    let with_map = contract_event(
        usd_sac,
        vec![sym("transfer"), addr(1), addr(2), text(&usd_s)],
        map,
    );
    assert!(contract_events::parse(&with_map, Shape::V3, &net.id).is_none());
    // A custom token: 3-topic transfer, no asset; amounts beyond i64.
    let big = 1i128 << 90;
    let m = parse(contract_event(
        [42; 32],
        vec![sym("transfer"), addr(1), addr(2)],
        i128v(big),
    ));
    assert_eq!((m.asset, m.amount), (None, big));
    // An impostor contract using a SAC's asset string gets no asset.
    let m = parse(sac_transfer([43; 32], &usd_s, 1));
    assert!(m.asset.is_none());
}

#[test]
fn v4_event_data_maps_and_topic_rules() {
    let net = network();
    let native_sac = sac_contract_id(&Asset::Native, &net.id);
    let parse = |e: ContractEvent| contract_events::parse(&e, Shape::V4, &net.id);
    let map = |id: ScVal| {
        ScVal::Map(Some(ScMap(
            vec![
                ScMapEntry {
                    key: sym("amount"),
                    val: i128v(9),
                },
                ScMapEntry {
                    key: sym("to_muxed_id"),
                    val: id,
                },
            ]
            .try_into()
            .unwrap(),
        )))
    };
    let transfer = |data| {
        contract_event(
            native_sac,
            vec![sym("transfer"), addr(1), addr(2), text("native")],
            data,
        )
    };
    assert_eq!(
        parse(transfer(map(ScVal::U64(77)))).unwrap().to_muxed,
        Some(MuxedInfo::Id(77))
    );
    assert_eq!(
        parse(transfer(map(text("memo")))).unwrap().to_muxed,
        Some(MuxedInfo::Text("memo".into()))
    );
    let bytes = ScVal::Bytes(ScBytes(vec![1, 2, 3].try_into().unwrap()));
    assert_eq!(
        parse(transfer(map(bytes))).unwrap().to_muxed,
        Some(MuxedInfo::Hash(vec![1, 2, 3])),
        "bytes at emitted length"
    );
    assert_eq!(parse(transfer(map(ScVal::Void))).unwrap().to_muxed, None);
    // A map without `amount` is not a token event.
    let no_amount = ScVal::Map(Some(ScMap(
        vec![ScMapEntry {
            key: sym("to_muxed_id"),
            val: ScVal::U64(1),
        }]
        .try_into()
        .unwrap(),
    )));
    assert!(parse(transfer(no_amount)).is_none());
    // V4 mint [to, asset]; the pre-CAP-67 shape [admin, to, ..] mints to
    // the third topic, with no asset (stellar/go credits the admin).
    let mint = contract_event(
        native_sac,
        vec![sym("mint"), addr(2), text("native")],
        i128v(3),
    );
    assert_eq!(parse(mint).unwrap().to, Some(g(2)));
    let old_mint = contract_event(
        native_sac,
        vec![sym("mint"), addr(9), addr(2), text("native")],
        i128v(3),
    );
    let m = parse(old_mint).unwrap();
    assert_eq!(
        (m.kind, m.from, m.to, m.asset),
        (EventKind::Mint, None, Some(g(2)), None)
    );
    // Non-token events are skipped.
    assert!(parse(contract_event(
        native_sac,
        vec![sym("set_authorized"), addr(2), text("native")],
        ScVal::Bool(true)
    ))
    .is_none());
    let mut diagnostic = contract_event(
        native_sac,
        vec![sym("transfer"), addr(1), addr(2), text("native")],
        i128v(1),
    );
    diagnostic.type_ = ContractEventType::Diagnostic;
    assert!(parse(diagnostic).is_none());
}
