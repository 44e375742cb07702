//! The fast decoder (XDR read in place) against the reference decoder
//! (`stellar-xdr`'s full decode): on every real fixture ledger and on
//! generated ledgers covering every operation the generator makes, in
//! every mode, both give the same events — every field, in the same order —
//! the same `ttp_event` batches, and the same source summaries; on broken
//! input both refuse.

mod common;

use stellar_xdr::{Limits, WriteXdr};
use stellarflow::processor::ttp::{compare_decoders, Decoder, Extractor, Mode};
use stellarflow::stellar::generator::{self, GeneratorOptions};
use stellarflow::stellar::{Network, DEFAULT_XDR_DEPTH};

const MODES: [Mode; 3] = [Mode::Auto, Mode::Unified, Mode::Derived];

/// Both decoders on one ledger's XDR in every mode: same events, batches
/// and summaries, or the same refusal.
fn assert_agree(xdr: &[u8], network: &Network, what: &str) {
    for mode in MODES {
        if let Err(e) = compare_decoders(xdr, network, mode, DEFAULT_XDR_DEPTH) {
            panic!("{what} {mode:?}: {e}");
        }
    }
}

#[test]
fn fast_and_reference_agree_on_every_fixture_ledger() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let pubnet = Network::parse("pubnet").unwrap();
    for sequence in common::FIXTURE_LEDGERS {
        let meta = common::fixture_ledger(&fixtures, sequence);
        let xdr = meta.to_xdr(Limits::none()).unwrap();
        assert_agree(&xdr, &pubnet, &format!("ledger {sequence}"));
    }
}

#[test]
fn fast_and_reference_agree_on_generated_ledgers() {
    // Every operation the generator makes, several seeds; the count is kept
    // small here, `stellarflow bench` and the fuzz target go further.
    let mut options = GeneratorOptions::new(100, 60, 11);
    options.txs_per_ledger = 60;
    for seed in [11, 12, 13] {
        options.seed = seed;
        for ledger in generator::ledgers(&options) {
            let xdr = ledger.meta.to_xdr(Limits::none()).unwrap();
            assert_agree(&xdr, &options.network, &format!("seed {seed}"));
        }
    }
}

#[test]
fn fast_and_reference_refuse_the_same_broken_ledgers() {
    let options = GeneratorOptions::new(100, 3, 5);
    let ledger = generator::ledgers(&options).last().unwrap();
    let xdr = ledger.meta.to_xdr(Limits::none()).unwrap();
    // Truncations at many points, and single-byte changes spread over it.
    let step = (xdr.len() / 200).max(1);
    for cut in (0..xdr.len()).step_by(step) {
        assert_agree(&xdr[..cut], &options.network, &format!("cut at {cut}"));
    }
    for at in (0..xdr.len()).step_by(step) {
        for value in [0x00, 0x01, 0x7f, 0xff] {
            let mut bad = xdr.clone();
            bad[at] = value;
            assert_agree(&bad, &options.network, &format!("byte {at} = {value:#x}"));
        }
    }
    let mut longer = xdr.clone();
    longer.extend_from_slice(&[0, 0, 0, 0]);
    assert_agree(&longer, &options.network, "trailing bytes");
}

#[test]
fn the_depth_limit_is_the_same() {
    let options = GeneratorOptions::new(100, 2, 5);
    let ledger = generator::ledgers(&options).last().unwrap();
    let xdr = ledger.meta.to_xdr(Limits::none()).unwrap();
    let pass = |decoder, depth| {
        Extractor::new()
            .extract(&xdr, &options.network, Mode::Auto, decoder, depth)
            .is_ok()
    };
    let least = (1..200)
        .find(|d| pass(Decoder::Reference, *d))
        .expect("the reference decodes within 200 levels");
    assert!(pass(Decoder::Fast, least), "fast refuses at depth {least}");
    assert!(
        !pass(Decoder::Fast, least - 1),
        "fast accepts depth {} where the reference needs {least}",
        least - 1
    );
}

/// A generated ledger whose first transaction carries, in the places the
/// fast reader skips or reads, values nested `levels` deep: an event
/// whose data is a vector of vectors around an i128 (read and skipped
/// in place) and a created claimable balance whose predicate is a chain of
/// `Not`s (the one arm `stellar-xdr` reads through a `Box`).
fn deeply_nested(data_levels: usize, predicate_levels: usize) -> (Vec<u8>, Network) {
    use stellar_xdr::*;
    let options = GeneratorOptions::new(100, 2, 5);
    let mut meta = generator::ledgers(&options).last().unwrap().meta;
    let LedgerCloseMeta::V2(m) = &mut meta else {
        panic!("generated ledgers are V2")
    };
    let mut txs = m.tx_processing.to_vec();
    let TransactionMeta::V4(v4) = &mut txs[0].tx_apply_processing else {
        panic!("generated metas are V4")
    };
    let mut data = ScVal::I128(Int128Parts { hi: 0, lo: 7 });
    for _ in 0..data_levels {
        data = ScVal::Vec(Some(ScVec(vec![data].try_into().unwrap())));
    }
    let event = ContractEvent {
        ext: ExtensionPoint::V0,
        contract_id: Some(ContractId(Hash([9; 32]))),
        type_: ContractEventType::Contract,
        body: ContractEventBody::V0(ContractEventV0 {
            topics: vec![ScVal::Symbol("nested".try_into().unwrap())]
                .try_into()
                .unwrap(),
            data,
        }),
    };
    let mut ops = v4.operations.to_vec();
    let mut events = ops[0].events.to_vec();
    events.push(event);
    ops[0].events = events.try_into().unwrap();
    v4.operations = ops.try_into().unwrap();
    let mut predicate = ClaimPredicate::Unconditional;
    for _ in 0..predicate_levels {
        predicate = ClaimPredicate::Not(Some(Box::new(predicate)));
    }
    let balance = LedgerEntry {
        last_modified_ledger_seq: 1,
        data: LedgerEntryData::ClaimableBalance(ClaimableBalanceEntry {
            balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash([3; 32])),
            claimants: vec![Claimant::ClaimantTypeV0(ClaimantV0 {
                destination: AccountId(PublicKey::PublicKeyTypeEd25519(Uint256([4; 32]))),
                predicate,
            })]
            .try_into()
            .unwrap(),
            asset: Asset::Native,
            amount: 1,
            ext: ClaimableBalanceEntryExt::V0,
        }),
        ext: LedgerEntryExt::V0,
    };
    let mut before = v4.tx_changes_before.to_vec();
    before.push(LedgerEntryChange::Created(balance));
    v4.tx_changes_before = LedgerEntryChanges(before.try_into().unwrap());
    m.tx_processing = txs.try_into().unwrap();
    (meta.to_xdr(Limits::none()).unwrap(), options.network)
}

#[test]
fn nested_values_hit_the_depth_limit_at_the_same_level() {
    // Each shape in turn is the deepest point of the ledger.
    for (data, predicates) in [(10, 0), (60, 1), (120, 2), (1, 40), (2, 150)] {
        let levels = format!("{data} nested vectors and {predicates} nested predicates");
        let (xdr, network) = deeply_nested(data, predicates);
        let pass = |decoder, depth| {
            Extractor::new()
                .extract(&xdr, &network, Mode::Auto, decoder, depth)
                .is_ok()
        };
        let least = (1..1000)
            .find(|d| pass(Decoder::Reference, *d))
            .expect("the reference decodes within 1000 levels");
        for depth in least.saturating_sub(3)..least + 3 {
            assert_eq!(
                pass(Decoder::Fast, depth),
                pass(Decoder::Reference, depth),
                "{levels}, depth limit {depth}"
            );
        }
        assert_agree(&xdr, &network, &levels);
    }
}
