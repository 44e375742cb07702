//! Flags of the tools that load no configuration: `generate` and `bench`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `stellarflow generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write the data lake into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// First ledger sequence
    #[arg(long, value_name = "LEDGER", default_value_t = 1000)]
    pub start: u32,
    /// Number of ledgers
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub count: u32,
    /// standalone, testnet, pubnet or futurenet
    #[arg(long, value_name = "NAME", default_value = "standalone")]
    pub network: String,
    /// Random seed; the same seed writes byte-identical ledgers
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub seed: u64,
    /// Transactions per ledger
    #[arg(long, value_name = "T", default_value_t = 40)]
    pub txs_per_ledger: u32,
    /// Instead of synthesising, re-sequence the real ledgers of this lake
    #[arg(long, value_name = "DIR")]
    pub from_lake: Option<PathBuf>,
    /// Ledgers per object
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub ledgers_per_batch: u32,
    /// Objects per partition directory
    #[arg(long, value_name = "N", default_value_t = 64000)]
    pub batches_per_partition: u32,
    /// Also write the token-transfer events put into the ledgers, as JSON lines
    #[arg(long, value_name = "FILE", conflicts_with = "from_lake")]
    pub expected_events: Option<PathBuf>,
}

/// `stellarflow bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure (default: the whole data path)
    #[command(subcommand)]
    pub target: Option<BenchTarget>,
}

/// Benchmark targets.
#[derive(Debug, Subcommand)]
pub enum BenchTarget {
    /// N concurrent clients heartbeating a control plane over loopback
    Controlplane(BenchControlplaneArgs),
    /// zstd only, zstd + XDR decode, and the Flight do_get rate of the source
    Source(BenchDataArgs),
    /// XDR decode, extraction in process, and events/s through Flight
    Process(BenchDataArgs),
    /// Rows/s and MB/s into Parquet, JSONL and PostgreSQL
    Sink(BenchSinkArgs),
    /// Every data-path stage plus the whole pipeline into Parquet
    All(BenchDataArgs),
    /// The fast decoder checked against the reference (and timed) on real and generated ledgers
    Decoders(BenchDecodersArgs),
}

/// `bench decoders`.
#[derive(Debug, Args)]
pub struct BenchDecodersArgs {
    /// Data lake whose ledgers to check too (default: the real fixture lake when it is beside the project)
    #[arg(long, value_name = "DIR")]
    pub datalake: Option<PathBuf>,
    /// Generated ledgers to check (every operation the generator makes)
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub generated: u32,
    /// Transactions per generated ledger
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub txs_per_ledger: u32,
    /// Also write every checked ledger to DIR as a fuzzing seed (a network byte, then the XDR)
    #[arg(long, value_name = "DIR")]
    pub write_corpus: Option<PathBuf>,
}

/// `bench controlplane`.
#[derive(Debug, Args)]
pub struct BenchControlplaneArgs {
    /// Concurrent services heartbeating
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub services: u32,
    /// Measurement time, e.g. 10s
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub duration: String,
    /// gRPC connections the clients share
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub connections: u32,
    /// Offered load of the paced run, heartbeats/s across all services
    #[arg(long, value_name = "N", default_value_t = 20000)]
    pub rate: u32,
}

/// Data-path benchmarks.
#[derive(Debug, Args)]
pub struct BenchDataArgs {
    /// Data lake to read (default: the real fixture ledgers re-sequenced into --ledgers ledgers, or generated ones)
    #[arg(long, value_name = "DIR")]
    pub datalake: Option<PathBuf>,
    /// Ledgers to make when no lake is given
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub ledgers: u32,
    /// Repeat each measurement this many times and keep the best
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rounds: u32,
    /// Print the figures as one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Sink benchmark.
#[derive(Debug, Args)]
pub struct BenchSinkArgs {
    /// Ledgers to generate events from
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub ledgers: u32,
    /// PostgreSQL URL (default: postgres://postgres@127.0.0.1:5432/test; skipped when unreachable)
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}
