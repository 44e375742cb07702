//! Coordinated backpressure (seed 003): global load = Σ current_inflight /
//! Σ max_inflight over healthy services; backpressure turns on at the
//! backpressure threshold and off below the recovery threshold, and while on
//! the recommended throttle rate is 0.5. Subscribers are told only when the
//! advice changes.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;

use super::registry::Entry;
use crate::flowctl::proto::stellarflow::v1::FlowControlSignal;

/// Rate recommended while backpressure is active.
pub(crate) const THROTTLED_RATE: f64 = 0.5;

/// The flow-control state machine.
pub struct FlowControl {
    backpressure_threshold: f64,
    recovery_threshold: f64,
    tx: watch::Sender<FlowControlSignal>,
}

impl FlowControl {
    /// A controller with the given thresholds (recovery < backpressure).
    pub fn new(backpressure_threshold: f64, recovery_threshold: f64) -> Arc<Self> {
        let (tx, _) = watch::channel(FlowControlSignal {
            backpressure_active: false,
            global_load: 0.0,
            throttle_rate: 1.0,
            reason: "no load reported".into(),
            at: Some(SystemTime::now().into()),
        });
        Arc::new(FlowControl {
            backpressure_threshold,
            recovery_threshold,
            tx,
        })
    }

    /// Recomputes the load from the registry and updates the signal.
    pub(super) fn evaluate(&self, entries: &[Entry]) {
        let mut inflight = 0.0;
        let mut capacity = 0.0;
        for entry in entries.iter().filter(|e| e.healthy) {
            let (i, m) = entry.load();
            inflight += i;
            capacity += m;
            if m > 0.0 {
                metrics::gauge!("flowctl_service_load_ratio", "service_id" => entry.info.service_id.clone())
                    .set(i / m);
            }
        }
        let load = if capacity > 0.0 {
            inflight / capacity
        } else {
            0.0
        };
        let was_active = self.tx.borrow().backpressure_active;
        let active = if was_active {
            load >= self.recovery_threshold
        } else {
            load >= self.backpressure_threshold
        };
        let rate = if active { THROTTLED_RATE } else { 1.0 };
        metrics::gauge!("flowctl_backpressure_active").set(if active { 1.0 } else { 0.0 });
        metrics::gauge!("flowctl_throttle_rate").set(rate);
        metrics::gauge!("flowctl_global_load_ratio").set(load);
        self.tx.send_if_modified(|signal| {
            let changed = signal.backpressure_active != active;
            signal.global_load = load;
            if changed {
                signal.backpressure_active = active;
                signal.throttle_rate = rate;
                signal.reason = if active {
                    format!(
                        "global load {load:.2} reached the backpressure threshold {:.2}",
                        self.backpressure_threshold
                    )
                } else {
                    format!(
                        "global load {load:.2} fell below the recovery threshold {:.2}",
                        self.recovery_threshold
                    )
                };
                signal.at = Some(SystemTime::now().into());
                if active {
                    tracing::warn!(load, "backpressure activated");
                } else {
                    tracing::info!(load, "backpressure released");
                }
            }
            changed
        });
    }

    /// The current signal.
    pub fn current(&self) -> FlowControlSignal {
        self.tx.borrow().clone()
    }

    /// Follows the signal.
    pub fn subscribe(&self) -> watch::Receiver<FlowControlSignal> {
        self.tx.subscribe()
    }
}
