//! The source's counters: exported to Prometheus as they change and sent to
//! the control plane with every heartbeat.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::telemetry::RoleCounters;

/// Source counters.
#[derive(Default)]
pub struct SourceStats {
    /// Ledgers sent to consumers.
    pub ledgers: AtomicU64,
    /// Highest ledger sent, errors returned to consumers, and ledgers
    /// (or objects) read but not yet sent.
    pub common: RoleCounters,
    /// Bytes read from storage or RPC.
    pub bytes_read: AtomicU64,
    /// Ledgers skipped under `--on-error skip`.
    pub skipped: AtomicU64,
}

impl SourceStats {
    /// Counts a ledger sent.
    pub(crate) fn sent(&self, ledger: u32, xdr_bytes: usize) {
        self.sent_many(ledger, 1, xdr_bytes);
    }

    /// Counts `count` ledgers sent at once, up to `last`, `xdr_bytes` of
    /// XDR in all (an object passed on as stored).
    pub(crate) fn sent_many(&self, last: u32, count: u64, xdr_bytes: usize) {
        self.ledgers.fetch_add(count, Ordering::Relaxed);
        self.common.reached(last);
        metrics::counter!("stellarflow_source_ledgers_total").increment(count);
        metrics::counter!("stellarflow_source_xdr_bytes_total").increment(xdr_bytes as u64);
        metrics::gauge!("stellarflow_source_current_ledger").set(f64::from(last));
    }

    /// Counts bytes read.
    pub fn read(&self, bytes: usize) {
        self.bytes_read.fetch_add(bytes as u64, Ordering::Relaxed);
        metrics::counter!("stellarflow_source_bytes_read_total").increment(bytes as u64);
    }

    /// Counts an error.
    pub fn error(&self) {
        self.common.count_error();
        metrics::counter!("stellarflow_source_errors_total").increment(1);
    }

    /// Counts skipped ledgers.
    pub fn skipped(&self, count: u64) {
        self.skipped.fetch_add(count, Ordering::Relaxed);
        metrics::counter!("stellarflow_source_ledgers_skipped_total").increment(count);
    }

    /// The heartbeat metrics (issue 3's names).
    pub fn heartbeat(&self) -> HashMap<String, f64> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let mut beat = self.common.heartbeat();
        beat.extend(
            [
                ("ledgers_processed_total", get(&self.ledgers)),
                ("bytes_read_total", get(&self.bytes_read)),
                ("ledgers_skipped_total", get(&self.skipped)),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        beat
    }
}

impl crate::telemetry::CountsInflight for SourceStats {
    fn inflight(&self, delta: i64) {
        let now = self.common.add_inflight(delta);
        metrics::gauge!("stellarflow_source_inflight").set(now as f64);
    }
}
