//! `bench process`: on the same ledgers in one run, full `LedgerCloseMeta`
//! decode alone, decode + token-transfer extraction in process (one thread
//! and every core), and events/s through Flight from a processor child
//! reading a source child.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

use super::child::{free_addr, ChildRole};
use super::corpus::Corpus;
use super::source::{best, start_source_child};
use super::{print_rates, Measured};
use crate::cli::BenchDataArgs;
use crate::flight::Ticket;
use crate::processor::ttp::{self, Mode};
use crate::stellar::{
    decode_batch, decompress, Manifest, Network, DEFAULT_XDR_DEPTH, MAX_DECOMPRESSED,
};

/// Decompressed objects, so decode and extraction are timed without zstd.
fn decompressed(corpus: &Corpus) -> anyhow::Result<Vec<Bytes>> {
    corpus
        .objects
        .iter()
        .map(|(_, _, bytes)| Ok(Bytes::from(decompress(bytes, MAX_DECOMPRESSED)?)))
        .collect()
}

fn decode_only(raw: &Bytes) -> anyhow::Result<u64> {
    Ok(decode_batch(raw.clone(), DEFAULT_XDR_DEPTH)?.ledgers.len() as u64)
}

fn extract_events(raw: &Bytes, network: &Network) -> anyhow::Result<u64> {
    let mut events = 0;
    for ledger in decode_batch(raw.clone(), DEFAULT_XDR_DEPTH)?.ledgers {
        events += ttp::extract(&ledger.meta, network, Mode::Auto)?.len() as u64;
    }
    Ok(events)
}

/// Time spent in extraction alone (decoded ledgers in hand), single thread.
fn extraction_only(raw: &[Bytes], network: &Network) -> anyhow::Result<Duration> {
    let mut spent = Duration::ZERO;
    for object in raw {
        for ledger in decode_batch(object.clone(), DEFAULT_XDR_DEPTH)?.ledgers {
            let started = Instant::now();
            ttp::extract(&ledger.meta, network, Mode::Auto)?;
            spent += started.elapsed();
        }
    }
    Ok(spent)
}

fn on_threads<F>(items: &[Bytes], threads: usize, f: F) -> anyhow::Result<u64>
where
    F: Fn(&Bytes) -> anyhow::Result<u64> + Sync,
{
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                scope.spawn(move || part.iter().map(f).sum::<anyhow::Result<u64>>())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("benchmark thread panicked"))?
            })
            .sum()
    })
}

/// Starts a processor child reading `source`.
pub(crate) async fn start_processor_child(source: &str) -> anyhow::Result<(ChildRole, String)> {
    let flight = free_addr()?;
    let http = free_addr()?;
    let args: Vec<String> = [
        "process",
        "--source-endpoint",
        source,
        "--flight-addr",
        &flight,
        "--http-addr",
        &http,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let child = ChildRole::start("processor", &args, &http, Duration::from_secs(30)).await?;
    Ok((child, flight))
}

/// Runs the processor benchmark.
pub(crate) async fn bench_process(args: &BenchDataArgs) -> anyhow::Result<()> {
    let corpus = Corpus::load_or_make(args.datalake.as_deref(), args.ledgers, true)?;
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(corpus.dir.join(".config.json"))?)?;
    let network = Network::from_passphrase(&manifest.network_passphrase);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let ledgers = corpus.ledgers();
    let raw = decompressed(&corpus)?;
    let xdr: u64 = raw.iter().map(|r| r.len() as u64 - 12).sum();
    println!(
        "processor benchmark: {ledgers} ledgers ({:.0} MB of XDR), best of {} rounds",
        xdr as f64 / 1e6,
        args.rounds
    );

    let (t, _) = best(args.rounds, || on_threads(&raw, 1, decode_only))?;
    let decode1 = Measured::new("XDR decode only (1 thread)", ledgers, xdr, t);
    let (t, events) = best(args.rounds, || {
        on_threads(&raw, 1, |r| extract_events(r, &network))
    })?;
    let extract1 =
        Measured::new("decode + extraction (1 thread)", ledgers, xdr, t).with_events(events);
    let mut only = Duration::MAX;
    for _ in 0..args.rounds.max(1) {
        only = only.min(extraction_only(&raw, &network)?);
    }
    let extract_only =
        Measured::new("extraction alone (1 thread)", ledgers, xdr, only).with_events(events);
    let (t, _) = best(args.rounds, || on_threads(&raw, cores, decode_only))?;
    let decode_n = Measured::new(
        &format!("XDR decode only ({cores} threads)"),
        ledgers,
        xdr,
        t,
    );
    let (t, _) = best(args.rounds, || {
        on_threads(&raw, cores, |r| extract_events(r, &network))
    })?;
    let extract_n = Measured::new(
        &format!("decode + extraction ({cores} threads)"),
        ledgers,
        xdr,
        t,
    )
    .with_events(events);

    let (source, source_endpoint) = start_source_child(&corpus.dir).await?;
    let (processor, endpoint) = start_processor_child(&source_endpoint).await?;
    let mut served: Option<(Duration, u64)> = None;
    for _ in 0..args.rounds.max(1) {
        let started = Instant::now();
        let mut rows = 0u64;
        for (first, last) in corpus.runs() {
            let mut stream =
                crate::flight::fetch(&endpoint, Ticket::range(first, last), &Default::default())
                    .await?;
            while let Some(batch) = stream.next().await {
                rows += batch?.batch.num_rows() as u64;
            }
        }
        let took = started.elapsed();
        anyhow::ensure!(
            rows == events,
            "the processor served {rows} events, extraction found {events}"
        );
        served = Some(served.map_or((took, rows), |(b, r)| (b.min(took), r)));
    }
    let rss = processor.peak_rss_bytes();
    processor.stop().await;
    source.stop().await;
    let (took, rows) = served.unwrap_or_default();
    let flight =
        Measured::new("events through Flight (2 processes)", ledgers, xdr, took).with_events(rows);
    print_rates(&[
        decode1.clone(),
        extract_only.clone(),
        extract1.clone(),
        decode_n,
        extract_n,
        flight,
    ]);
    println!(
        "extraction alone takes {:.0}% of the decode time (1 thread); processor peak RSS {}",
        100.0 * decode1.ledgers_per_s() / extract_only.ledgers_per_s(),
        rss.map(|b| format!("{:.0} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "n/a".into())
    );
    Ok(())
}
