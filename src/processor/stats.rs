//! The processor's counters, exported to Prometheus and sent with every
//! heartbeat.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::telemetry::RoleCounters;

/// Processor counters.
pub struct ProcessorStats {
    /// Events served (after filters).
    pub events: AtomicU64,
    /// Ledgers processed.
    pub ledgers: AtomicU64,
    /// Highest ledger processed, errors returned downstream, and ledger
    /// rows being processed now.
    pub common: RoleCounters,
    /// Events and time at the last rate sample.
    rate: Mutex<(Instant, u64, f64)>,
}

impl Default for ProcessorStats {
    fn default() -> Self {
        ProcessorStats {
            events: AtomicU64::new(0),
            ledgers: AtomicU64::new(0),
            common: RoleCounters::default(),
            rate: Mutex::new((Instant::now(), 0, 0.0)),
        }
    }
}

impl ProcessorStats {
    /// Counts one processed ledger and the events it produced.
    pub fn ledger(&self, sequence: u32, events: usize, mode: &'static str) {
        self.ledgers.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events as u64, Ordering::Relaxed);
        self.common.reached(sequence);
        metrics::counter!("stellarflow_processor_ledgers_total", "mode" => mode).increment(1);
        metrics::counter!("stellarflow_processor_events_total").increment(events as u64);
        metrics::counter!("flowctl_pipeline_throughput_total").increment(events as u64);
        metrics::gauge!("stellarflow_processor_current_ledger").set(f64::from(sequence));
    }

    /// Counts an error.
    pub fn error(&self) {
        self.common.count_error();
        metrics::counter!("stellarflow_processor_errors_total").increment(1);
    }

    /// Events per second since the previous call (smoothed over ≥ 1 s).
    pub(crate) fn events_per_second(&self) -> f64 {
        let mut rate = self.rate.lock();
        let now = Instant::now();
        let events = self.events.load(Ordering::Relaxed);
        let elapsed = now.duration_since(rate.0).as_secs_f64();
        if elapsed >= 1.0 {
            rate.2 = (events - rate.1) as f64 / elapsed;
            *rate = (now, events, rate.2);
        }
        rate.2
    }

    /// The heartbeat metrics (issue 4's names).
    pub fn heartbeat(&self) -> HashMap<String, f64> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let mut beat = self.common.heartbeat();
        beat.extend(
            [
                ("events_processed_total", get(&self.events)),
                ("events_per_second", self.events_per_second()),
                ("ledgers_processed_total", get(&self.ledgers)),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        beat
    }
}

impl crate::telemetry::CountsInflight for ProcessorStats {
    fn inflight(&self, delta: i64) {
        let now = self.common.add_inflight(delta);
        metrics::gauge!("stellarflow_processor_inflight").set(now as f64);
    }
}
