//! Stellar data shared by every role: networks and their ids, the SEP-54
//! data-lake layout, decoding zstd-compressed `LedgerCloseMetaBatch` objects
//! with a depth limit, a uniform view over `LedgerCloseMeta` V0/V1/V2,
//! addresses and Stellar Asset Contract ids, and the synthetic generator.

pub mod address;
pub mod decode;
pub mod generator;
pub mod lake;
pub mod ledger;
pub mod network;
pub mod walk;

pub use decode::{
    decode_batch, decode_ledger, decompress, decompress_into, split_batch, summarize_batch,
    DecodeError, DecodedBatch, DecodedLedger, SplitBatch, MAX_DECOMPRESSED,
};
pub use lake::{LakeLayout, Manifest};
pub use ledger::{LedgerSummary, LedgerView, TxApply};
pub use network::Network;

/// The XDR depth limit the stellar CLI and soroban-env-host use.
pub const DEFAULT_XDR_DEPTH: u32 = 500;
