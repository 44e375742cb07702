//! The sink's main loop, on a thread of its own: batches of whole ledgers
//! go to every output (each skipping what its cursor already holds), and
//! outputs commit on rotation, on the flush interval, and at the end of a
//! bounded range. A cursor only moves after its output's data is durable.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, RecordBatch, UInt32Array};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::output::Output;
use super::stats::SinkStats;
use crate::flight::{BatchMeta, LedgerBatch};

/// What the loop was asked to do.
pub struct Plan {
    /// Last ledger to write; `None` follows live.
    pub end: Option<u32>,
    /// Commit at least this often.
    pub flush_interval: Duration,
}

/// Rows of `batch` for ledgers after `cursor` (rows are in ledger order).
fn after_cursor(batch: &RecordBatch, cursor: u32) -> RecordBatch {
    let Some(ledgers) = batch
        .column_by_name("ledger_sequence")
        .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
    else {
        return batch.clone();
    };
    let skip = (0..ledgers.len())
        .take_while(|i| ledgers.value(*i) <= cursor)
        .count();
    batch.slice(skip, batch.num_rows() - skip)
}

fn min_cursor(outputs: &[Box<dyn Output>]) -> Option<u32> {
    outputs.iter().filter_map(|o| o.cursor()).min()
}

/// Runs until the range is complete (Ok), the input ends (Ok; a live run
/// being stopped), or an output or the upstream fails (Err).
pub fn run(
    mut outputs: Vec<Box<dyn Output>>,
    mut input: mpsc::Receiver<Result<LedgerBatch, tonic::Status>>,
    plan: Plan,
    stats: Arc<SinkStats>,
    runtime: Handle,
) -> anyhow::Result<()> {
    let mut last_commit = Instant::now();
    let fail = |stats: &SinkStats, e: anyhow::Error| {
        stats.common.count_error();
        metrics::counter!("stellarflow_sink_errors_total").increment(1);
        e
    };
    loop {
        let wait = plan
            .flush_interval
            .saturating_sub(last_commit.elapsed())
            .max(Duration::from_millis(10));
        let received = runtime.block_on(async { tokio::time::timeout(wait, input.recv()).await });
        match received {
            Err(_) => {} // flush interval reached with nothing new
            Ok(None) => {
                commit_all(&mut outputs, &stats)?;
                return Ok(());
            }
            Ok(Some(Err(status))) => {
                commit_all(&mut outputs, &stats).map_err(|e| fail(&stats, e))?;
                return Err(fail(
                    &stats,
                    anyhow::anyhow!("reading events failed: {}", status.message()),
                ));
            }
            Ok(Some(Ok(batch))) => {
                check_schema(&batch.batch).map_err(|e| fail(&stats, e))?;
                stats
                    .received_ledger
                    .store(u64::from(batch.meta.last_ledger), Ordering::Relaxed);
                let mut counted = false;
                for output in outputs.iter_mut() {
                    let from = output.cursor().map_or(0, |c| c.saturating_add(1));
                    if batch.meta.last_ledger < from {
                        continue;
                    }
                    let rows = after_cursor(&batch.batch, from.saturating_sub(1));
                    let meta = BatchMeta {
                        first_ledger: batch.meta.first_ledger.max(from),
                        last_ledger: batch.meta.last_ledger,
                    };
                    output.write(&rows, meta).map_err(|e| fail(&stats, e))?;
                    if !counted {
                        count_types(&rows, &stats);
                        stats
                            .events
                            .fetch_add(rows.num_rows() as u64, Ordering::Relaxed);
                        metrics::counter!("stellarflow_sink_events_total")
                            .increment(rows.num_rows() as u64);
                        counted = true;
                    }
                    if output.wants_commit() {
                        output.commit().map_err(|e| fail(&stats, e))?;
                    }
                }
                // Written: it leaves the sink's in-flight count.
                stats.common.add_inflight(-1);
                let done = plan.end.is_some_and(|end| batch.meta.last_ledger >= end);
                if done {
                    commit_all(&mut outputs, &stats).map_err(|e| fail(&stats, e))?;
                    stats.common.inflight.store(0, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        if last_commit.elapsed() >= plan.flush_interval {
            commit_all(&mut outputs, &stats).map_err(|e| fail(&stats, e))?;
            last_commit = Instant::now();
        }
    }
}

fn count_types(rows: &RecordBatch, stats: &SinkStats) {
    let Some(types) = rows
        .column_by_name("event_type")
        .and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>())
    else {
        return;
    };
    let mut by_type = stats.by_type.lock();
    for i in 0..types.len() {
        *by_type.entry(types.value(i).to_string()).or_default() += 1;
    }
}

/// Refuses rows that are not events: a sink pointed at a source, say.
fn check_schema(batch: &RecordBatch) -> anyhow::Result<()> {
    let schema = batch.schema();
    let name = schema
        .metadata
        .get(crate::schema::NAME_KEY)
        .map(String::as_str)
        .unwrap_or("(unnamed)");
    let version = schema
        .metadata
        .get(crate::schema::VERSION_KEY)
        .map(String::as_str)
        .unwrap_or("?");
    let known = [
        (crate::schema::ttp::NAME, crate::schema::ttp::VERSION),
        (
            crate::schema::contract_data::NAME,
            crate::schema::contract_data::VERSION,
        ),
    ];
    if known.iter().any(|(n, v)| *n == name && *v == version) {
        return Ok(());
    }
    anyhow::bail!(
        "schema mismatch: upstream sent {name} version {version}, the sink writes ttp_event or contract_data version 1 (is --processor-endpoint pointing at a processor?)"
    )
}

fn commit_all(outputs: &mut [Box<dyn Output>], stats: &SinkStats) -> anyhow::Result<()> {
    for output in outputs.iter_mut() {
        if output.pending() {
            let started = Instant::now();
            output.commit()?;
            metrics::histogram!("stellarflow_sink_commit_seconds")
                .record(started.elapsed().as_secs_f64());
        }
    }
    let (files, bytes) = outputs
        .iter()
        .map(|o| o.files_written())
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    stats.files.store(files, Ordering::Relaxed);
    stats.bytes.store(bytes, Ordering::Relaxed);
    metrics::gauge!("stellarflow_sink_files_written").set(files as f64);
    if let Some(cursor) = min_cursor(outputs) {
        stats
            .common
            .current_ledger
            .store(u64::from(cursor), Ordering::Relaxed);
        metrics::gauge!("stellarflow_sink_cursor").set(f64::from(cursor));
    }
    Ok(())
}
