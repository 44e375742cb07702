//! The counters every serving role keeps in the same shape: how far it got,
//! how often it failed, and how full its queue is. The control plane's
//! flow control reads the last two from every role's heartbeat, so they
//! must mean the same thing everywhere.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// A role's stats that count work in flight (and name its gauge).
pub(crate) trait CountsInflight: Send + Sync + 'static {
    /// Adjusts the in-flight count by `delta`.
    fn inflight(&self, delta: i64);
}

/// Work counted in flight until this is dropped: whether the work is done
/// or abandoned (a client cancels its stream and the buffered items are
/// dropped), the count comes back down, so gauges return to zero.
pub(crate) struct InFlight<S: CountsInflight> {
    stats: std::sync::Arc<S>,
    count: i64,
}

impl<S: CountsInflight> InFlight<S> {
    /// Counts `count` units in flight on `stats`.
    pub fn new(stats: std::sync::Arc<S>, count: i64) -> Self {
        stats.inflight(count);
        InFlight { stats, count }
    }
}

impl<S: CountsInflight> Drop for InFlight<S> {
    fn drop(&mut self) {
        self.stats.inflight(-self.count);
    }
}

impl<S: CountsInflight> std::fmt::Debug for InFlight<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InFlight({})", self.count)
    }
}

/// Progress, errors and queue occupancy of one role. Each role's stats
/// struct holds one as `common` beside its own counters, and names the
/// Prometheus series.
#[derive(Debug, Default)]
pub struct RoleCounters {
    /// Highest ledger done (served or committed, as the role defines it).
    pub current_ledger: AtomicU64,
    /// Errors returned or met.
    pub errors: AtomicU64,
    /// Work in the role's queue now.
    pub inflight: AtomicU64,
    /// The queue's bound, reported for flow control.
    pub max_inflight: AtomicU64,
}

impl RoleCounters {
    /// Sets the queue bound reported for flow control.
    pub(crate) fn set_max_inflight(&self, max: u32) {
        self.max_inflight.store(u64::from(max), Ordering::Relaxed);
    }

    /// Counts an error; the new total.
    pub(crate) fn count_error(&self) -> u64 {
        self.errors.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adjusts the queue occupancy, never below zero; the new value.
    pub(crate) fn add_inflight(&self, delta: i64) -> u64 {
        let change = delta.unsigned_abs();
        let update = |v: u64| {
            Some(if delta >= 0 {
                v.saturating_add(change)
            } else {
                v.saturating_sub(change)
            })
        };
        let before = self
            .inflight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, update)
            .unwrap_or(0);
        update(before).unwrap_or(0)
    }

    /// Raises the highest ledger done to `ledger`.
    pub(crate) fn reached(&self, ledger: u32) {
        self.current_ledger
            .fetch_max(u64::from(ledger), Ordering::Relaxed);
    }

    /// The heartbeat entries every role sends under the same names.
    pub fn heartbeat(&self) -> HashMap<String, f64> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        [
            ("current_ledger", get(&self.current_ledger)),
            ("errors_total", get(&self.errors)),
            ("current_inflight", get(&self.inflight)),
            ("max_inflight", get(&self.max_inflight)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}
