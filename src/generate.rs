//! `stellarflow generate`: writes a synthetic data lake (or re-sequences a
//! real one) and prints what it wrote.

use std::time::Instant;

use crate::cli::GenerateArgs;
use crate::stellar::generator::{self, GeneratorOptions};
use crate::stellar::{LakeLayout, Network};

/// Runs `stellarflow generate`.
pub fn run(args: &GenerateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.count > 0,
        "invalid value for --count: 0 (expected at least 1 ledger)"
    );
    anyhow::ensure!(
        args.start >= 2,
        "invalid value for --start: {} (ledger 1 is genesis; expected 2 or more)",
        args.start
    );
    anyhow::ensure!(
        args.start.checked_add(args.count).is_some(),
        "--start {} plus --count {} overflows the ledger sequence",
        args.start,
        args.count
    );
    let layout = LakeLayout {
        ledgers_per_batch: args.ledgers_per_batch.max(1),
        batches_per_partition: args.batches_per_partition.max(1),
    };
    let started = Instant::now();
    let summary = match &args.from_lake {
        Some(from) => generator::resequence_lake(from, &args.out, args.start, args.count, layout)?,
        None => {
            let network = Network::parse(&args.network)
                .map_err(|e| anyhow::anyhow!("invalid value for --network: {e}"))?;
            let options = GeneratorOptions {
                network,
                start: args.start,
                count: args.count,
                seed: args.seed,
                txs_per_ledger: args.txs_per_ledger.max(1),
                ledgers_per_batch: layout.ledgers_per_batch,
                batches_per_partition: layout.batches_per_partition,
            };
            generator::write_lake(&options, &args.out, args.expected_events.as_deref())?
        }
    };
    println!(
        "wrote {} ledgers ({}..={}) in {} objects to {} in {:.1}s: {:.1} MB of XDR, {:.1} MB compressed{}",
        summary.ledgers,
        args.start,
        args.start + args.count - 1,
        summary.objects,
        args.out.display(),
        started.elapsed().as_secs_f64(),
        summary.xdr_bytes as f64 / 1e6,
        summary.compressed_bytes as f64 / 1e6,
        if summary.events > 0 { format!(", {} token-transfer events", summary.events) } else { String::new() }
    );
    Ok(())
}
