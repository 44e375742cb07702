//! `bench decoders`: the fast decoder against the reference on every ledger
//! of a lake (the real fixtures by default) and on generated ledgers, in
//! unified, derived and auto mode — the same events, batches and
//! summaries, or the same refusal — with each decoder's time. Exits with
//! an error on the first disagreements it lists.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use stellar_xdr::{Limits, WriteXdr};

use crate::cli::BenchDecodersArgs;
use crate::processor::ttp::{compare_decoders, Agreement, Decoder, Extractor, Mode};
use crate::stellar::generator::{self, GeneratorOptions};
use crate::stellar::{
    decompress, split_batch, Manifest, Network, DEFAULT_XDR_DEPTH, MAX_DECOMPRESSED,
};

const MODES: [Mode; 3] = [Mode::Unified, Mode::Derived, Mode::Auto];

#[derive(Default)]
struct Tally {
    /// Where seeds go, if asked.
    corpus: Option<PathBuf>,
    ledgers: u64,
    events: u64,
    refusals: u64,
    disagreements: Vec<String>,
    fast: Duration,
    reference: Duration,
}

impl Tally {
    fn check(&mut self, what: &str, xdr: &[u8], network: &Network) -> anyhow::Result<()> {
        self.ledgers += 1;
        if let Some(dir) = &self.corpus {
            // The fuzz target reads a network byte (even: pubnet, odd:
            // standalone) and then the ledger.
            let mut seed = vec![u8::from(network.name() != "pubnet")];
            seed.extend_from_slice(xdr);
            let name = format!("{}-{:08}", network.name(), self.ledgers);
            std::fs::write(dir.join(name), seed)?;
        }
        for mode in MODES {
            match compare_decoders(xdr, network, mode, DEFAULT_XDR_DEPTH) {
                Ok(Agreement::Events(n)) => self.events += n as u64,
                Ok(Agreement::Refused) => self.refusals += 1,
                Err(e) => self.disagreements.push(format!("{what} {mode:?}: {e}")),
            }
        }
        for (decoder, spent) in [
            (Decoder::Fast, &mut self.fast),
            (Decoder::Reference, &mut self.reference),
        ] {
            let started = Instant::now();
            let _ = Extractor::new().extract(xdr, network, Mode::Auto, decoder, DEFAULT_XDR_DEPTH);
            *spent += started.elapsed();
        }
        Ok(())
    }

    fn print(&self, name: &str) {
        println!(
            "{name}: {} ledgers × 3 modes: {} events agreed, {} refusals agreed, {} disagreements; auto mode fast {:.2} ms/ledger, reference {:.2} ms/ledger",
            self.ledgers,
            self.events,
            self.refusals,
            self.disagreements.len(),
            self.fast.as_secs_f64() * 1e3 / self.ledgers.max(1) as f64,
            self.reference.as_secs_f64() * 1e3 / self.ledgers.max(1) as f64,
        );
        for d in self.disagreements.iter().take(10) {
            println!("  DISAGREE {d}");
        }
    }
}

/// Runs the check.
pub(crate) fn bench_decoders(args: &BenchDecodersArgs) -> anyhow::Result<()> {
    let mut failed = false;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/stellar-fixtures/lake");
    let lake = args
        .datalake
        .clone()
        .or_else(|| fixtures.join(".config.json").is_file().then_some(fixtures));
    if let Some(dir) = &args.write_corpus {
        std::fs::create_dir_all(dir)?;
    }
    match lake {
        Some(lake) => {
            let manifest: Manifest =
                serde_json::from_slice(&std::fs::read(lake.join(".config.json"))?)?;
            let network = Network::from_passphrase(&manifest.network_passphrase);
            let mut tally = Tally {
                corpus: args.write_corpus.clone(),
                ..Tally::default()
            };
            for object in super::corpus::object_paths(&lake)? {
                let raw = decompress(&std::fs::read(&object)?, MAX_DECOMPRESSED)?;
                for (i, xdr) in split_batch(&raw, DEFAULT_XDR_DEPTH)?
                    .ledgers
                    .into_iter()
                    .enumerate()
                {
                    tally.check(&format!("{} #{i}", object.display()), xdr, &network)?;
                }
            }
            tally.print(&format!("lake {}", lake.display()));
            failed |= !tally.disagreements.is_empty();
        }
        None => println!(
            "no lake checked: pass --datalake (the fixture lake is not beside the project)"
        ),
    }
    if let Some(dir) = &args.write_corpus {
        std::fs::create_dir_all(dir)?;
    }
    let mut tally = Tally {
        corpus: args.write_corpus.clone(),
        ..Tally::default()
    };
    let per_seed = 1000;
    let mut seed = 1;
    while tally.ledgers < u64::from(args.generated) {
        let count = per_seed.min(args.generated - tally.ledgers as u32);
        let mut options = GeneratorOptions::new(1000, count, seed);
        options.txs_per_ledger = args.txs_per_ledger.max(1);
        for ledger in generator::ledgers(&options) {
            let xdr = ledger.meta.to_xdr(Limits::none())?;
            tally.check(&format!("seed {seed}"), &xdr, &options.network)?;
        }
        seed += 1;
    }
    tally.print("generated");
    failed |= !tally.disagreements.is_empty();
    anyhow::ensure!(!failed, "the decoders disagree (see DISAGREE lines)");
    Ok(())
}
