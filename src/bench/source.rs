//! `bench source`: on the same objects in one run, the rate of zstd alone,
//! of zstd + full `LedgerCloseMeta` decode (one thread and every core), and
//! of Flight `do_get` from a source child process as a client receives it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

use super::child::{free_addr, ChildRole};
use super::corpus::{parallel, Corpus};
use super::{print_rates, Measured};
use crate::cli::BenchDataArgs;
use crate::flight::Ticket;
use crate::stellar::{
    decode_batch, decompress, LedgerSummary, DEFAULT_XDR_DEPTH, MAX_DECOMPRESSED,
};

/// zstd only; returns XDR bytes.
pub(crate) fn zstd_only(bytes: &[u8]) -> anyhow::Result<u64> {
    Ok(decompress(bytes, MAX_DECOMPRESSED)?.len() as u64 - 12)
}

/// zstd + decode + summary; returns XDR bytes.
pub fn decode_all(bytes: &[u8]) -> anyhow::Result<u64> {
    let raw = decompress(bytes, MAX_DECOMPRESSED)?;
    let len = raw.len() as u64 - 12;
    let batch = decode_batch(Bytes::from(raw), DEFAULT_XDR_DEPTH)?;
    for ledger in &batch.ledgers {
        LedgerSummary::of(&ledger.meta).map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(len)
}

/// Best of `rounds` timings of `f`.
pub(crate) fn best<F: FnMut() -> anyhow::Result<u64>>(
    rounds: u32,
    mut f: F,
) -> anyhow::Result<(Duration, u64)> {
    let mut best: Option<(Duration, u64)> = None;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        let bytes = f()?;
        let took = started.elapsed();
        if best.is_none_or(|(b, _)| took < b) {
            best = Some((took, bytes));
        }
    }
    best.ok_or_else(|| anyhow::anyhow!("no rounds"))
}

/// Starts a source child over `dir`.
pub(crate) async fn start_source_child(
    dir: &std::path::Path,
) -> anyhow::Result<(ChildRole, String)> {
    let flight = free_addr()?;
    let http = free_addr()?;
    let args: Vec<String> = vec![
        "source".into(),
        "--datalake".into(),
        dir.display().to_string(),
        "--flight-addr".into(),
        flight.clone(),
        "--http-addr".into(),
        http.clone(),
    ];
    let child = ChildRole::start("source", &args, &http, Duration::from_secs(30)).await?;
    Ok((child, flight))
}

/// Reads every run of the corpus from a Flight endpoint; returns (ledgers,
/// XDR bytes).
pub(crate) async fn drain(
    endpoint: &str,
    runs: &[(u32, u32)],
    column: &str,
) -> anyhow::Result<(u64, u64)> {
    let (mut rows, mut bytes) = (0u64, 0u64);
    for (first, last) in runs {
        let mut stream =
            crate::flight::fetch(endpoint, Ticket::range(*first, *last), &Default::default())
                .await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.batch.num_rows() as u64;
            if let Some(col) = batch.batch.column_by_name(column) {
                bytes += col.get_buffer_memory_size() as u64;
            }
        }
    }
    Ok((rows, bytes))
}

/// Runs the source benchmark.
pub(crate) async fn bench_source(args: &BenchDataArgs) -> anyhow::Result<()> {
    let corpus = Corpus::load_or_make(args.datalake.as_deref(), args.ledgers, true)?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let ledgers = corpus.ledgers();
    println!(
        "source benchmark: {ledgers} ledgers in {} objects from {}, best of {} rounds",
        corpus.objects.len(),
        corpus.dir.display(),
        args.rounds
    );
    let objects = &corpus.objects;
    let (t, xdr) = best(args.rounds, || parallel(objects, 1, zstd_only))?;
    let zstd = Measured::new("zstd decompress only (1 thread)", ledgers, xdr, t);
    let (t, _) = best(args.rounds, || parallel(objects, 1, decode_all))?;
    let decode1 = Measured::new("zstd + XDR decode (1 thread)", ledgers, xdr, t);
    let (t, _) = best(args.rounds, || parallel(objects, cores, decode_all))?;
    let decode_n = Measured::new(
        &format!("zstd + XDR decode ({cores} threads)"),
        ledgers,
        xdr,
        t,
    );

    let (child, endpoint) = start_source_child(&corpus.dir).await?;
    let runs = corpus.runs();
    let (server_cpu0, client_cpu0) = (
        child.cpu_seconds(),
        super::child::cpu_seconds_of(std::process::id()),
    );
    let mut served_best: Option<Duration> = None;
    for _ in 0..args.rounds.max(1) {
        let started = Instant::now();
        let (rows, _) = drain(&endpoint, &runs, "ledger_xdr").await?;
        anyhow::ensure!(
            rows == ledgers,
            "the source served {rows} ledgers, expected {ledgers}"
        );
        let took = started.elapsed();
        served_best = Some(served_best.map_or(took, |b: Duration| b.min(took)));
    }
    let rss = child.peak_rss_bytes();
    let server_cpu = child.cpu_seconds().zip(server_cpu0).map(|(a, b)| a - b);
    let client_cpu = super::child::cpu_seconds_of(std::process::id())
        .zip(client_cpu0)
        .map(|(a, b)| a - b);
    if let (Some(server), Some(client)) = (server_cpu, client_cpu) {
        let per = |cpu: f64| 1000.0 * cpu / (ledgers as f64 * f64::from(args.rounds.max(1)));
        println!(
            "CPU per served ledger: source {:.2} ms, client {:.2} ms",
            per(server),
            per(client)
        );
    }
    child.stop().await;
    let served = Measured::new(
        "Flight do_get (source process)",
        ledgers,
        xdr,
        served_best.unwrap_or_default(),
    );
    print_rates(&[zstd, decode1.clone(), decode_n.clone(), served.clone()]);
    println!(
        "served / decode: {:.2} of the 1-thread rate, {:.2} of the {cores}-thread rate (goal 0.80); source peak RSS {}",
        served.ledgers_per_s() / decode1.ledgers_per_s(),
        served.ledgers_per_s() / decode_n.ledgers_per_s(),
        rss.map(|b| format!("{:.0} MB", b as f64 / 1e6)).unwrap_or_else(|| "n/a".into())
    );
    println!("(the source decodes every ledger fully; its client shares these {cores} cores)");
    Ok(())
}
