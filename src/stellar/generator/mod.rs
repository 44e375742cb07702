//! `stellarflow generate`: a synthetic but valid Stellar data lake.
//!
//! Ledgers are `LedgerCloseMeta` V2 with `TransactionMeta` V4 and CAP-67
//! events, a correct header hash chain, tx hashes that match the envelopes
//! under the network passphrase, and a realistic mix of classic and Soroban
//! activity whose entry changes agree with the events. The same seed gives
//! byte-identical output. `--from-lake` instead re-sequences real ledgers
//! into a large corpus for benchmarks.

mod builder;
mod events;
mod state;
mod writer;

pub use builder::{GeneratedLedger, LedgerBuilder};
pub use events::{ExpectedEvent, Muxed};
pub use writer::{resequence_lake, write_lake, LakeWriter, WriteSummary};

use crate::stellar::Network;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GeneratorOptions {
    /// Network whose passphrase keys tx hashes and contract ids.
    pub network: Network,
    /// First ledger sequence.
    pub start: u32,
    /// Number of ledgers.
    pub count: u32,
    /// Random seed.
    pub seed: u64,
    /// Transactions per ledger.
    pub txs_per_ledger: u32,
    /// Ledgers per object.
    pub ledgers_per_batch: u32,
    /// Objects per partition.
    pub batches_per_partition: u32,
}

impl GeneratorOptions {
    /// Small defaults for tests: standalone, 40 txs per ledger, one ledger
    /// per object.
    pub fn new(start: u32, count: u32, seed: u64) -> Self {
        GeneratorOptions {
            network: Network::from_passphrase(crate::stellar::network::KNOWN[3].1),
            start,
            count,
            seed,
            txs_per_ledger: 40,
            ledgers_per_batch: 1,
            batches_per_partition: 64000,
        }
    }
}

/// Generates the ledgers of `options` in memory, one at a time.
pub fn ledgers(options: &GeneratorOptions) -> impl Iterator<Item = GeneratedLedger> {
    let mut builder = LedgerBuilder::new(
        options.seed,
        options.network.id,
        options.start,
        options.txs_per_ledger,
    );
    (0..options.count).map(move |_| builder.next_ledger())
}
