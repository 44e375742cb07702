//! The sink's counters, exported to Prometheus and sent with heartbeats.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::telemetry::{RoleCounters, SinkProgress};

/// Sink counters.
#[derive(Default)]
pub struct SinkStats {
    /// Events written (counted once per event, whatever the outputs).
    pub events: AtomicU64,
    /// Files finalised by file outputs.
    pub files: AtomicU64,
    /// Bytes finalised by file outputs.
    pub bytes: AtomicU64,
    /// Highest ledger every output has committed, errors, and ledgers
    /// received but not yet committed.
    pub common: RoleCounters,
    /// Last ledger received from upstream (written, maybe not committed).
    pub received_ledger: AtomicU64,
    /// Connected WebSocket clients.
    pub websocket_connections: AtomicU64,
    /// Seconds between the newest ledger's close and its commit.
    pub latency_seconds: AtomicU64,
    /// Events written per event type.
    pub by_type: Mutex<BTreeMap<String, u64>>,
}

impl SinkStats {
    /// The heartbeat metrics (issue 5's names).
    pub fn heartbeat(&self) -> HashMap<String, f64> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let mut beat = self.common.heartbeat();
        beat.extend(
            [
                ("events_written_total", get(&self.events)),
                ("files_written_total", get(&self.files)),
                ("bytes_written_total", get(&self.bytes)),
                ("websocket_connections", get(&self.websocket_connections)),
                ("pipeline_latency_seconds", get(&self.latency_seconds)),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        beat
    }
}

impl SinkStats {
    /// What `/api/progress` and the run summary report.
    pub(crate) fn progress(&self) -> SinkProgress {
        let some = |a: &AtomicU64| match a.load(Ordering::Relaxed) {
            0 => None,
            n => u32::try_from(n).ok(),
        };
        SinkProgress {
            cursor: some(&self.common.current_ledger),
            ledger: some(&self.received_ledger),
            events: self.events.load(Ordering::Relaxed),
            events_by_type: self.by_type.lock().clone(),
            files: self.files.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}
