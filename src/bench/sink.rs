//! `bench sink`: the same generated events written through each output in
//! one run; rows/s and MB/s (of the events' in-memory Arrow size, the same
//! input for every output) plus the bytes that landed.

use std::time::{Duration, Instant};

use arrow::array::RecordBatch;

use super::rate;
use crate::cli::BenchSinkArgs;
use crate::flight::BatchMeta;
use crate::processor::ttp::{self, Mode};
use crate::sink::{FileOutput, Format, Limits, Output, PostgresOutput};
use crate::stellar::generator::{self, GeneratorOptions};
use crate::stellar::LedgerView;

struct Row {
    name: String,
    took: Duration,
    landed: Option<u64>,
}

fn write_all(
    output: &mut dyn Output,
    batches: &[(RecordBatch, BatchMeta)],
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for (batch, meta) in batches {
        output.write(batch, *meta)?;
        if output.wants_commit() {
            output.commit()?;
        }
    }
    output.commit()?;
    Ok(started.elapsed())
}

fn dir_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                total += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    total
}

/// Runs the sink benchmark.
pub(crate) async fn bench_sink(args: &BenchSinkArgs) -> anyhow::Result<()> {
    let options = GeneratorOptions::new(1_000_000, args.ledgers.max(1), 42);
    let mut batches = Vec::new();
    for ledger in generator::ledgers(&options) {
        let sequence = LedgerView::new(&ledger.meta).sequence();
        let events = ttp::extract(&ledger.meta, &options.network, Mode::Auto)?;
        batches.push((
            crate::processor::ttp_batch(&events)?,
            BatchMeta {
                first_ledger: sequence,
                last_ledger: sequence,
            },
        ));
    }
    let rows: usize = batches.iter().map(|(b, _)| b.num_rows()).sum();
    let bytes: usize = batches.iter().map(|(b, _)| b.get_array_memory_size()).sum();
    println!(
        "sink benchmark: {} events from {} generated ledgers ({:.1} MB in Arrow), each output in turn",
        rate(rows as f64),
        args.ledgers,
        bytes as f64 / 1e6
    );
    let url = args
        .postgres
        .clone()
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let runtime = tokio::runtime::Handle::current();
    let results = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Row>> {
        let temp = tempfile::tempdir()?;
        let limits = Limits {
            row_group_rows: 131_072,
            rotate_rows: 1_000_000,
            rotate_bytes: 256 << 20,
        };
        let mut results = Vec::new();
        for format in [Format::Parquet, Format::Jsonl, Format::Csv] {
            let name = format!("{format:?}").to_lowercase();
            let dir = temp.path().join(&name);
            let mut output = FileOutput::open(format, &dir, &temp.path().join("state"), limits)?;
            let took = write_all(&mut output, &batches)?;
            let label = if format == Format::Parquet {
                "parquet (zstd)".to_string()
            } else {
                name
            };
            results.push(Row {
                name: label,
                took,
                landed: Some(dir_size(&dir)),
            });
        }
        let table = format!("bench_transfers_{}", std::process::id());
        match PostgresOutput::open(&url, &table, 50_000, runtime.clone()) {
            Ok(mut output) => {
                let took = write_all(&mut output, &batches)?;
                results.push(Row {
                    name: "postgres (binary COPY)".into(),
                    took,
                    landed: None,
                });
                let drop = async {
                    if let Ok((client, connection)) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(connection);
                        let _ = client
                            .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
                            .await;
                    }
                };
                runtime.block_on(drop);
            }
            Err(e) => println!("postgres skipped: {e}"),
        }
        Ok(results)
    })
    .await??;
    println!(
        "{:<24} {:>12} {:>12} {:>14}",
        "output", "rows/s", "MB/s", "bytes landed"
    );
    for r in results {
        let secs = r.took.as_secs_f64().max(1e-9);
        println!(
            "{:<24} {:>12} {:>12.1} {:>14}",
            r.name,
            rate(rows as f64 / secs),
            bytes as f64 / 1e6 / secs,
            r.landed
                .map(|b| rate(b as f64))
                .unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}
