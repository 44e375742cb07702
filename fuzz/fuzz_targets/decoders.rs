//! Mutated `LedgerCloseMeta` bytes through both decoders: they must agree
//! (the same events, batches and summaries) or both refuse, and neither
//! may panic. The first byte picks the network (pubnet or standalone, so
//! that both real and generated seeds keep their transaction hashes); the
//! rest is the ledger.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stellarflow::processor::ttp::{compare_decoders, Mode};
use stellarflow::stellar::{Network, DEFAULT_XDR_DEPTH};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, xdr)) = data.split_first() else {
        return;
    };
    let network = if selector & 1 == 0 {
        Network::parse("pubnet")
    } else {
        Network::parse("standalone")
    };
    let Ok(network) = network else { return };
    for mode in [Mode::Auto, Mode::Unified, Mode::Derived] {
        if let Err(disagreement) = compare_decoders(xdr, &network, mode, DEFAULT_XDR_DEPTH) {
            panic!("decoders disagree in {mode:?} mode: {disagreement}");
        }
    }
});
