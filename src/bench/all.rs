//! `stellarflow bench` (or `bench all`): every data-path stage on the same
//! ledgers in one run — zstd alone, a full XDR decode, token-transfer
//! extraction with the reference and the fast decoder (one thread each) —
//! and the whole pipeline (source → processor → sink into zstd Parquet,
//! three processes over loopback Flight), with each role's peak memory.
//! Prints a table, or with `--json` one object with the same figures.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::child::free_addr;
use super::corpus::{parallel, Corpus};
use super::process::start_processor_child;
use super::source::{best, decode_all, start_source_child, zstd_only};
use super::{print_rates, Measured};
use crate::cli::BenchDataArgs;
use crate::processor::ttp::{self, Decoder, Extractor, Mode};
use crate::stellar::{
    decode_batch, decompress, split_batch, Manifest, Network, DEFAULT_XDR_DEPTH, MAX_DECOMPRESSED,
};

/// zstd, full decode and reference extraction of one object; its events.
fn extract_reference(bytes: &[u8], network: &Network) -> anyhow::Result<u64> {
    let raw = decompress(bytes, MAX_DECOMPRESSED)?;
    let mut events = 0;
    for ledger in decode_batch(raw.into(), DEFAULT_XDR_DEPTH)?.ledgers {
        events += ttp::extract(&ledger.meta, network, Mode::Auto)?.len() as u64;
    }
    Ok(events)
}

/// zstd and fast extraction of one object; its events.
fn extract_fast(bytes: &[u8], network: &Network, extractor: &mut Extractor) -> anyhow::Result<u64> {
    let raw = decompress(bytes, MAX_DECOMPRESSED)?;
    let mut events = 0;
    for xdr in split_batch(&raw, DEFAULT_XDR_DEPTH)?.ledgers {
        let (found, _) =
            extractor.extract(xdr, network, Mode::Auto, Decoder::Fast, DEFAULT_XDR_DEPTH)?;
        events += found.len() as u64;
    }
    Ok(events)
}

/// Runs a child to its end: whether it succeeded, and its peak resident
/// memory read from /proc while it runs. (`wait4`'s figure would be the
/// bench's own: a child's RSS right after fork is its parent's.)
async fn run_measured(mut command: tokio::process::Command) -> anyhow::Result<(bool, Option<u64>)> {
    let mut child = command.spawn()?;
    let pid = child.id();
    let mut peak: Option<u64> = None;
    loop {
        tokio::select! {
            status = child.wait() => return Ok((status?.success(), peak)),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                if let Some(hwm) = pid.and_then(super::child::peak_rss_of) {
                    peak = peak.max(Some(hwm));
                }
            }
        }
    }
}

/// Every figure of one `bench all` run (the `--json` output).
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    corpus_ledgers: u64,
    corpus_xdr_bytes: u64,
    decompress_ledgers_per_s: f64,
    decode_ledgers_per_s: f64,
    extract_reference_ledgers_per_s: f64,
    extract_fast_ledgers_per_s: f64,
    pipeline_ledgers_per_s: f64,
    /// Events per second through the whole pipeline (rows written).
    events_per_s: f64,
    /// Role → peak resident memory in MiB (`null` when unreadable).
    peak_rss_mib: BTreeMap<&'static str, Option<f64>>,
    /// `extract_fast / decode` (target ≥ 3).
    fast_over_decode: f64,
    /// `pipeline / extract_fast` (target ≥ 0.7).
    pipeline_over_fast: f64,
}

/// The pipeline run: source and processor children, and a sink process per
/// round writing zstd Parquet; the best round counts.
struct PipelineRun {
    took: Duration,
    ledgers: u64,
    rows: u64,
    rss: [(&'static str, Option<u64>); 3],
}

async fn pipeline(corpus: &Corpus, rounds: u32) -> anyhow::Result<PipelineRun> {
    let (first, last) = corpus
        .runs()
        .into_iter()
        .max_by_key(|(a, b)| b - a)
        .unwrap_or((0, 0));
    let (source, source_endpoint) = start_source_child(&corpus.dir).await?;
    let (processor, processor_endpoint) = start_processor_child(&source_endpoint).await?;
    let mut best: Option<Duration> = None;
    let mut rows = 0;
    let mut sink_rss: Option<u64> = None;
    for _ in 0..rounds.max(1) {
        let out = tempfile::tempdir()?;
        let mut command = tokio::process::Command::new(std::env::current_exe()?);
        command
            .args(["sink", "--processor-endpoint", &processor_endpoint])
            .args(["--flight-addr", &free_addr()?, "--http-addr", &free_addr()?])
            .args(["--start", &first.to_string(), "--end", &last.to_string()])
            .arg("--state-dir")
            .arg(out.path().join("state"))
            .arg("--output")
            .arg(format!("parquet:{}", out.path().join("pq").display()))
            .env("LOG_LEVEL", "warn");
        let started = Instant::now();
        let (ok, rss) = run_measured(command).await?;
        anyhow::ensure!(ok, "the sink failed");
        let took = started.elapsed();
        best = Some(best.map_or(took, |b: Duration| b.min(took)));
        sink_rss = sink_rss.max(rss);
        rows = parquet_rows(&out.path().join("pq"))?;
    }
    let rss = [
        ("source", source.peak_rss_bytes()),
        ("processor", processor.peak_rss_bytes()),
        ("sink", sink_rss),
    ];
    processor.stop().await;
    source.stop().await;
    Ok(PipelineRun {
        took: best.unwrap_or_default(),
        ledgers: u64::from(last - first + 1),
        rows,
        rss,
    })
}

/// Runs every data-path benchmark.
pub(crate) async fn bench_all(args: &BenchDataArgs) -> anyhow::Result<()> {
    let corpus = Corpus::load_or_make(args.datalake.as_deref(), args.ledgers, !args.json)?;
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(corpus.dir.join(".config.json"))?)?;
    let network = Network::from_passphrase(&manifest.network_passphrase);
    let objects = &corpus.objects;
    let ledgers = corpus.ledgers();
    if !args.json {
        println!(
            "data-path benchmark: {ledgers} ledgers, best of {} rounds, one thread per in-process stage",
            args.rounds
        );
    }
    let (t, xdr) = best(args.rounds, || parallel(objects, 1, zstd_only))?;
    let zstd = Measured::new("zstd decompress", ledgers, xdr, t);
    let (t, _) = best(args.rounds, || parallel(objects, 1, decode_all))?;
    let decode = Measured::new("zstd + full XDR decode", ledgers, xdr, t);
    let (t, events) = best(args.rounds, || {
        parallel(objects, 1, |b| extract_reference(b, &network))
    })?;
    let reference =
        Measured::new("zstd + decode + TTP (reference)", ledgers, xdr, t).with_events(events);
    let (t, fast_events) = best(args.rounds, || {
        let mut extractor = Extractor::new();
        objects
            .iter()
            .map(|(_, _, bytes)| extract_fast(bytes, &network, &mut extractor))
            .sum()
    })?;
    anyhow::ensure!(
        fast_events == events,
        "the fast decoder found {fast_events} events, the reference {events}"
    );
    let fast = Measured::new("zstd + TTP (fast decoder)", ledgers, xdr, t).with_events(events);
    let run = pipeline(&corpus, args.rounds).await?;
    let run_xdr = xdr * run.ledgers / ledgers.max(1);
    let piped = Measured::new(
        "pipeline → Parquet (3 processes)",
        run.ledgers,
        run_xdr,
        run.took,
    )
    .with_events(run.rows);
    let report = Report {
        corpus_ledgers: ledgers,
        corpus_xdr_bytes: xdr,
        decompress_ledgers_per_s: zstd.ledgers_per_s(),
        decode_ledgers_per_s: decode.ledgers_per_s(),
        extract_reference_ledgers_per_s: reference.ledgers_per_s(),
        extract_fast_ledgers_per_s: fast.ledgers_per_s(),
        pipeline_ledgers_per_s: piped.ledgers_per_s(),
        events_per_s: run.rows as f64 / run.took.as_secs_f64().max(1e-9),
        peak_rss_mib: run
            .rss
            .iter()
            .map(|(role, bytes)| (*role, bytes.map(|b| b as f64 / (1 << 20) as f64)))
            .collect(),
        fast_over_decode: fast.ledgers_per_s() / decode.ledgers_per_s(),
        pipeline_over_fast: piped.ledgers_per_s() / fast.ledgers_per_s(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_rates(&[zstd, decode, reference, fast, piped]);
    println!(
        "fast / decode {:.2} (target ≥ 3), pipeline / fast {:.2} (target ≥ 0.7)",
        report.fast_over_decode, report.pipeline_over_fast
    );
    let mib = |b: &Option<f64>| b.map_or("n/a".to_string(), |b| format!("{b:.0} MiB"));
    println!(
        "peak memory: source {}, processor {}, sink {}",
        mib(&report.peak_rss_mib["source"]),
        mib(&report.peak_rss_mib["processor"]),
        mib(&report.peak_rss_mib["sink"])
    );
    Ok(())
}

fn parquet_rows(dir: &std::path::Path) -> anyhow::Result<u64> {
    let mut rows = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                let reader =
                    parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&p)?)?;
                rows += parquet::file::reader::FileReader::metadata(&reader)
                    .file_metadata()
                    .num_rows() as u64;
            }
        }
    }
    Ok(rows)
}
