//! Token-transfer extraction on real pubnet ledgers and generated ones:
//! `verify` passes everywhere, unified and derived modes agree on V4
//! ledgers, generated ledgers give back exactly the events the generator
//! put in, and bad ledgers fail naming the ledger and transaction.

mod common;

use std::collections::BTreeMap;

use stellar_xdr::{LedgerCloseMeta, TransactionMeta};
use stellarflow::processor::ttp::{self, EventKind, Mode, MuxedInfo, TtpEvent};
use stellarflow::stellar::generator::{self, GeneratorOptions, Muxed};
use stellarflow::stellar::{LedgerView, Network};

fn counts(events: &[TtpEvent]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for e in events {
        *out.entry(e.kind.as_str()).or_default() += 1;
    }
    out
}

#[test]
fn every_fixture_passes_verify_and_v4_modes_agree() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let pubnet = Network::parse("pubnet").unwrap();
    let mut v4 = 0;
    for sequence in common::FIXTURE_LEDGERS {
        let meta = common::fixture_ledger(&fixtures, sequence);
        let view = LedgerView::new(&meta);
        let auto =
            ttp::extract(&meta, &pubnet, Mode::Auto).unwrap_or_else(|e| panic!("{sequence}: {e}"));
        ttp::verify::verify(&view, &auto).unwrap_or_else(|e| panic!("verify {sequence}: {e}"));
        if ttp::unified::is_unified(&view) && !view.transactions().is_empty() {
            v4 += 1;
            let unified = ttp::extract(&meta, &pubnet, Mode::Unified).unwrap();
            let derived = ttp::extract(&meta, &pubnet, Mode::Derived).unwrap();
            ttp::verify::verify(&view, &derived)
                .unwrap_or_else(|e| panic!("verify derived {sequence}: {e}"));
            assert_eq!(unified.len(), derived.len(), "{sequence}");
            for (u, d) in unified.iter().zip(&derived) {
                assert_eq!(
                    u,
                    d,
                    "ledger {sequence}: modes disagree at {}",
                    u.event_id()
                );
            }
            assert_eq!(auto, unified);
        }
    }
    assert_eq!(
        v4, 5,
        "51000294, 57500008, 63092988, 63092990, 63092996 carry V4 meta"
    );
}

#[test]
fn ledger_51000294_has_the_reference_counts() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let meta = common::fixture_ledger(&fixtures, 51000294);
    let events = ttp::extract(&meta, &Network::parse("pubnet").unwrap(), Mode::Auto).unwrap();
    let expected: BTreeMap<&str, usize> = [
        ("fee", 542),
        ("transfer", 424),
        ("mint", 1),
        ("clawback", 1),
    ]
    .into();
    assert_eq!(counts(&events), expected);
    // One refund (AfterTx, protocol 20): right after its own transaction's
    // operation events (that Soroban tx is applied last here).
    let refunds: Vec<usize> = (0..events.len())
        .filter(|i| events[*i].kind == EventKind::Fee && events[*i].amount < 0)
        .collect();
    assert_eq!(refunds.len(), 1);
    let refund = &events[refunds[0]];
    let own_ops: Vec<usize> = (0..events.len())
        .filter(|i| events[*i].tx_hash == refund.tx_hash && events[*i].operation_index.is_some())
        .collect();
    assert!(own_ops.iter().all(|i| *i < refunds[0]));
    assert!(events[refunds[0] + 1..]
        .iter()
        .all(|e| e.transaction_index > refund.transaction_index));
    assert!(
        events[..541].iter().all(|e| e.kind == EventKind::Fee),
        "all charges come first"
    );
    // Event ids are unique.
    let ids: std::collections::HashSet<String> = events.iter().map(TtpEvent::event_id).collect();
    assert_eq!(ids.len(), events.len());
}

#[test]
fn protocol_23_refunds_come_last() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let meta = common::fixture_ledger(&fixtures, 63092988);
    let events = ttp::extract(&meta, &Network::parse("pubnet").unwrap(), Mode::Auto).unwrap();
    let refunds = events
        .iter()
        .filter(|e| e.kind == EventKind::Fee && e.amount < 0)
        .count();
    assert_eq!(refunds, 26, "26 AfterAllTxs refunds");
    assert!(events[events.len() - refunds..]
        .iter()
        .all(|e| e.kind == EventKind::Fee && e.amount < 0));
}

#[test]
fn older_meta_ledgers_derive_events_that_pass_verify() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let pubnet = Network::parse("pubnet").unwrap();
    // The TTP tutorial ledgers (LCM V0, TxMeta V2) and 53312000 (TxMeta V3).
    for (sequence, at_least) in [
        (6154623, 0),
        (16154623, 2),
        (26154623, 19),
        (36154623, 190),
        (46154623, 212),
        (53312000, 163),
    ] {
        let meta = common::fixture_ledger(&fixtures, sequence);
        let view = LedgerView::new(&meta);
        assert!(
            !ttp::unified::is_unified(&view) || view.transactions().is_empty(),
            "{sequence} is pre-CAP-67 meta"
        );
        let events = ttp::extract(&meta, &pubnet, Mode::Derived)
            .unwrap_or_else(|e| panic!("{sequence}: {e}"));
        assert!(
            events.len() >= at_least,
            "{sequence}: {} events",
            events.len()
        );
        ttp::verify::verify(&view, &events).unwrap_or_else(|e| panic!("verify {sequence}: {e}"));
        if !view.transactions().is_empty() {
            let err = ttp::extract(&meta, &pubnet, Mode::Unified)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&sequence.to_string()) && err.contains("expected 4"),
                "{err}"
            );
        }
    }
    // 46154623 creates claimable balances (its Clawback tx failed: no event).
    let events = ttp::extract(
        &common::fixture_ledger(&fixtures, 46154623),
        &pubnet,
        Mode::Derived,
    )
    .unwrap();
    assert!(events
        .iter()
        .any(|e| e.to.as_deref().is_some_and(|t| t.starts_with('B'))));
    assert!(events
        .iter()
        .filter(|e| e.kind == EventKind::Clawback)
        .all(|e| !e.successful));
}

fn same_muxed(ours: &Option<MuxedInfo>, generated: &Option<Muxed>) -> bool {
    match (ours, generated) {
        (None, None) => true,
        (Some(MuxedInfo::Id(a)), Some(Muxed::Id(b))) => a == b,
        (Some(MuxedInfo::Text(a)), Some(Muxed::Text(b))) => a == b,
        (Some(MuxedInfo::Hash(a)), Some(Muxed::Hash(b))) => a.as_slice() == b.as_slice(),
        _ => false,
    }
}

#[test]
fn generated_ledgers_round_trip_exactly() {
    let options = GeneratorOptions::new(5000, 60, 11);
    let mut total = 0;
    let mut kinds = BTreeMap::new();
    for ledger in generator::ledgers(&options) {
        let view = LedgerView::new(&ledger.meta);
        let unified = ttp::extract(&ledger.meta, &options.network, Mode::Unified).unwrap();
        let derived = ttp::extract(&ledger.meta, &options.network, Mode::Derived).unwrap();
        assert_eq!(unified, derived, "ledger {}", view.sequence());
        ttp::verify::verify(&view, &unified).unwrap();
        assert_eq!(
            unified.len(),
            ledger.expected.len(),
            "ledger {}",
            view.sequence()
        );
        for (got, want) in unified.iter().zip(&ledger.expected) {
            let at = got.event_id();
            assert_eq!(got.kind.as_str(), want.event_type, "{at}");
            assert_eq!(got.from.as_deref(), want.from.as_deref(), "{at}");
            assert_eq!(got.to.as_deref(), want.to.as_deref(), "{at}");
            assert_eq!(got.asset_string(), want.asset, "{at}");
            assert_eq!(got.amount, want.amount, "{at}");
            assert_eq!(&*got.contract_address, want.contract_address, "{at}");
            assert_eq!(hex::encode(got.tx_hash), want.tx_hash, "{at}");
            assert_eq!(got.transaction_index, want.transaction_index, "{at}");
            assert_eq!(got.operation_index, want.operation_index, "{at}");
            assert!(
                same_muxed(&got.to_muxed, &want.to_muxed),
                "{at}: {:?} vs {:?}",
                got.to_muxed,
                want.to_muxed
            );
            *kinds
                .entry((want.event_type, want.asset.is_some()))
                .or_insert(0) += 1;
        }
        total += unified.len();
    }
    assert!(total > 5000, "{total} events");
    // The mix covers every kind, SAC and custom tokens, refunds and muxes.
    for kind in ["fee", "transfer", "mint", "burn", "clawback"] {
        assert!(
            kinds.contains_key(&(kind, true)),
            "no {kind} events: {kinds:?}"
        );
    }
    assert!(
        kinds.contains_key(&("transfer", false)) && kinds.contains_key(&("mint", false)),
        "custom token events"
    );
}

fn generated_ledger() -> LedgerCloseMeta {
    generator::ledgers(&GeneratorOptions::new(100, 1, 5))
        .next()
        .unwrap()
        .meta
}

fn tx_meta_mut(
    meta: &mut LedgerCloseMeta,
    index: usize,
) -> (&mut stellar_xdr::TransactionMetaV4, String) {
    let LedgerCloseMeta::V2(m) = meta else {
        panic!("generated ledgers are V2")
    };
    let mut all: Vec<_> = m.tx_processing.iter_mut().collect();
    let tx = all.remove(index);
    let hash = hex::encode(tx.result.transaction_hash.0);
    let TransactionMeta::V4(v4) = &mut tx.tx_apply_processing else {
        panic!("V4")
    };
    (v4, hash)
}

#[test]
fn a_v4_transaction_without_or_with_three_fee_events_is_an_error() {
    let network = GeneratorOptions::new(100, 1, 5).network;
    let mut meta = generated_ledger();
    let (v4, hash) = tx_meta_mut(&mut meta, 3);
    v4.events = Default::default();
    let err = ttp::extract(&meta, &network, Mode::Unified)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ledger 100") && err.contains(&hash) && err.contains("0 fee events"),
        "{err}"
    );

    let mut meta = generated_ledger();
    let (v4, hash) = tx_meta_mut(&mut meta, 2);
    let mut events: Vec<_> = v4.events.to_vec();
    events.push(events[0].clone());
    events.push(events[0].clone());
    v4.events = events.try_into().unwrap();
    let err = ttp::extract(&meta, &network, Mode::Unified)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&hash) && err.contains("3 fee events"), "{err}");
}

#[test]
fn undecodable_xdr_names_the_ledger_through_the_processor() {
    use arrow::array::RecordBatch;
    use stellarflow::flight::{BatchMeta, LedgerBatch};
    // A stellar_ledger row whose XDR is cut short.
    let meta = generated_ledger();
    let xdr = stellar_xdr::WriteXdr::to_xdr(&meta, stellar_xdr::Limits::none()).unwrap();
    let summary = stellarflow::stellar::LedgerSummary::of(&meta).unwrap();
    let mut rows = stellarflow::schema::ledger::LedgerRowsBuilder::default();
    let cut = bytes::Bytes::copy_from_slice(&xdr[..xdr.len() / 3]);
    rows.push(
        &summary,
        &GeneratorOptions::new(100, 1, 5).network.id,
        &cut,
        &cut,
    );
    let batch: RecordBatch = rows.finish().unwrap();
    let config = common::config(stellarflow::config::Role::Processor, &[]);
    let extraction = stellarflow::processor::extraction(&config).unwrap();
    let stats = stellarflow::processor::ProcessorStats::default();
    let input = LedgerBatch {
        batch,
        meta: BatchMeta {
            first_ledger: 100,
            last_ledger: 100,
        },
    };
    let err = extraction.process(&input, &stats).unwrap_err();
    assert_eq!(err.code(), tonic::Code::DataLoss);
    assert!(
        err.message().contains("ledger 100") && err.message().contains("XDR"),
        "{}",
        err.message()
    );
}
