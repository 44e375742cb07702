//! `stellarflow bench` (or `bench all`): every data-path stage on the same
//! ledgers in one run — zstd alone, XDR decode, token-transfer extraction —
//! and the whole pipeline (source → processor → sink into Parquet, three
//! processes over loopback Flight), with peak memory.

use std::time::{Duration, Instant};

use super::child::free_addr;
use super::corpus::{parallel, Corpus};
use super::process::start_processor_child;
use super::source::{best, decode_all, start_source_child, zstd_only};
use super::{print_rates, Measured};
use crate::cli::BenchDataArgs;
use crate::processor::ttp::{self, Mode};
use crate::stellar::{
    decode_batch, decompress, Manifest, Network, DEFAULT_XDR_DEPTH, MAX_DECOMPRESSED,
};

fn extract(bytes: &[u8], network: &Network) -> anyhow::Result<u64> {
    let raw = decompress(bytes, MAX_DECOMPRESSED)?;
    let mut events = 0;
    for ledger in decode_batch(raw.into(), DEFAULT_XDR_DEPTH)?.ledgers {
        events += ttp::extract(&ledger.meta, network, Mode::Auto)?.len() as u64;
    }
    Ok(events)
}

fn extract_fast(
    bytes: &[u8],
    network: &Network,
    extractor: &mut ttp::Extractor,
) -> anyhow::Result<u64> {
    let raw = decompress(bytes, MAX_DECOMPRESSED)?;
    let mut events = 0;
    for xdr in crate::stellar::split_batch(&raw, DEFAULT_XDR_DEPTH)?.ledgers {
        events += extractor
            .extract(
                xdr,
                network,
                Mode::Auto,
                ttp::Decoder::Fast,
                DEFAULT_XDR_DEPTH,
            )?
            .0
            .len() as u64;
    }
    Ok(events)
}

/// Largest resident set of any waited-for child (the sink after it exits).
fn children_peak_rss() -> Option<u64> {
    // SAFETY: getrusage fills the struct we pass; no other memory is touched.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } == 0;
    ok.then(|| usage.ru_maxrss as u64 * 1024)
}

/// Runs every data-path benchmark.
pub async fn bench_all(args: &BenchDataArgs) -> anyhow::Result<()> {
    let corpus = Corpus::load_or_make(args.datalake.as_deref(), args.ledgers)?;
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(corpus.dir.join(".config.json"))?)?;
    let network = Network::from_passphrase(&manifest.network_passphrase);
    let objects = &corpus.objects;
    let ledgers = corpus.ledgers();
    println!("data-path benchmark: {ledgers} ledgers, best of {} rounds, one thread per in-process stage", args.rounds);
    let (t, xdr) = best(args.rounds, || parallel(objects, 1, zstd_only))?;
    let zstd = Measured::new("zstd decompress", ledgers, xdr, t);
    let (t, _) = best(args.rounds, || parallel(objects, 1, decode_all))?;
    let decode = Measured::new("zstd + XDR decode", ledgers, xdr, t);
    let (t, events) = best(args.rounds, || {
        parallel(objects, 1, |b| extract(b, &network))
    })?;
    let extraction =
        Measured::new("zstd + decode + TTP extraction", ledgers, xdr, t).with_events(events);
    let (t, fast_events) = best(args.rounds, || {
        let mut extractor = ttp::Extractor::new();
        let mut total = 0;
        for (_, _, bytes) in objects.iter() {
            total += extract_fast(bytes, &network, &mut extractor)?;
        }
        Ok(total)
    })?;
    anyhow::ensure!(
        fast_events == events,
        "the fast path found {fast_events} events, the reference {events}"
    );
    let fast = Measured::new("zstd + fast TTP extraction", ledgers, xdr, t).with_events(events);

    // The whole pipeline on the longest contiguous run.
    let (first, last) = corpus
        .runs()
        .into_iter()
        .max_by_key(|(a, b)| b - a)
        .unwrap_or((0, 0));
    let run_ledgers = u64::from(last - first + 1);
    let run_xdr = xdr * run_ledgers / ledgers.max(1);
    let (source, source_endpoint) = start_source_child(&corpus.dir).await?;
    let (processor, processor_endpoint) = start_processor_child(&source_endpoint).await?;
    let mut best_pipeline: Option<Duration> = None;
    let mut written_rows = 0;
    for _ in 0..args.rounds.max(1) {
        let out = tempfile::tempdir()?;
        let started = Instant::now();
        let status = tokio::process::Command::new(std::env::current_exe()?)
            .args([
                "sink",
                "--processor-endpoint",
                &processor_endpoint,
                "--flight-addr",
                &free_addr()?,
                "--http-addr",
                &free_addr()?,
            ])
            .args(["--start", &first.to_string(), "--end", &last.to_string()])
            .args([
                "--state-dir",
                &out.path().join("state").display().to_string(),
            ])
            .args([
                "--output",
                &format!("parquet:{}", out.path().join("pq").display()),
            ])
            .env("LOG_LEVEL", "warn")
            .status()
            .await?;
        anyhow::ensure!(status.success(), "the sink failed with {status}");
        let took = started.elapsed();
        best_pipeline = Some(best_pipeline.map_or(took, |b: Duration| b.min(took)));
        written_rows = parquet_rows(&out.path().join("pq"))?;
    }
    let rss = (
        source.peak_rss_bytes(),
        processor.peak_rss_bytes(),
        children_peak_rss(),
    );
    processor.stop().await;
    source.stop().await;
    let pipeline = Measured::new(
        "pipeline → Parquet (3 processes)",
        run_ledgers,
        run_xdr,
        best_pipeline.unwrap_or_default(),
    )
    .with_events(written_rows);
    print_rates(&[zstd, decode, extraction, fast, pipeline]);
    let mb = |b: Option<u64>| {
        b.map(|b| format!("{:.0} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "n/a".into())
    };
    println!(
        "peak memory: bench process {}, source {}, processor {}, sink {}",
        mb(crate::telemetry::peak_rss_bytes()),
        mb(rss.0),
        mb(rss.1),
        mb(rss.2)
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
