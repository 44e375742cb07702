//! `stellarflow bench`: benchmarks as programs that print side-by-side
//! figures from one run. Servers under test run as child processes of this
//! same executable, so client and server costs are not mixed in one process.

mod all;
mod child;
mod controlplane;
mod corpus;
mod decoders;
mod process;
mod sink;
mod source;

pub use controlplane::bench_controlplane;

use crate::cli::{BenchArgs, BenchDataArgs, BenchTarget};

/// Runs the benchmark the command line asked for.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.target {
        Some(BenchTarget::Controlplane(args)) => bench_controlplane(&args).await,
        Some(BenchTarget::Source(args)) => source::bench_source(&args).await,
        Some(BenchTarget::Process(args)) => process::bench_process(&args).await,
        Some(BenchTarget::Sink(args)) => sink::bench_sink(&args).await,
        Some(BenchTarget::All(args)) => all::bench_all(&args).await,
        Some(BenchTarget::Decoders(args)) => {
            tokio::task::block_in_place(|| decoders::bench_decoders(&args))
        }
        None => {
            let defaults = BenchDataArgs {
                datalake: None,
                ledgers: 2000,
                rounds: 3,
                json: false,
            };
            all::bench_all(&defaults).await
        }
    }
}

/// Formats a rate with thousands separators for tables.
pub(crate) fn rate(value: f64) -> String {
    let whole = value.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One measured stage.
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    name: String,
    ledgers: u64,
    xdr_bytes: u64,
    seconds: f64,
    events: Option<u64>,
}

impl Measured {
    pub(crate) fn new(name: &str, ledgers: u64, xdr_bytes: u64, took: std::time::Duration) -> Self {
        Measured {
            name: name.to_string(),
            ledgers,
            xdr_bytes,
            seconds: took.as_secs_f64().max(1e-9),
            events: None,
        }
    }

    pub(crate) fn with_events(mut self, events: u64) -> Self {
        self.events = Some(events);
        self
    }

    pub(crate) fn ledgers_per_s(&self) -> f64 {
        self.ledgers as f64 / self.seconds
    }
}

/// Prints stages side by side: ledgers/s, MB/s of XDR, events/s.
pub(crate) fn print_rates(stages: &[Measured]) {
    println!(
        "{:<40} {:>12} {:>12} {:>14}",
        "stage", "ledgers/s", "MB/s XDR", "events/s"
    );
    for m in stages {
        let events = m
            .events
            .map(|e| rate(e as f64 / m.seconds))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<40} {:>12} {:>12.1} {:>14}",
            m.name,
            rate(m.ledgers_per_s()),
            m.xdr_bytes as f64 / 1e6 / m.seconds,
            events
        );
    }
}
