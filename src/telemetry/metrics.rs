//! The process-wide Prometheus recorder and small measuring helpers.

use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global metrics recorder once and returns the handle that
/// renders `/metrics`. Histograms ending in `_seconds` get latency buckets.
pub fn install_metrics() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                        0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // A recorder installed by someone else (a test harness) wins;
            // our handle then renders an empty page rather than failing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Records the time from creation to drop into a histogram with one label.
pub struct LatencyTimer {
    name: &'static str,
    label: (&'static str, &'static str),
    start: Instant,
}

impl LatencyTimer {
    /// Starts timing for histogram `name` with the label `key=value`.
    pub(crate) fn labelled(name: &'static str, key: &'static str, value: &'static str) -> Self {
        LatencyTimer {
            name,
            label: (key, value),
            start: Instant::now(),
        }
    }
}

impl Drop for LatencyTimer {
    fn drop(&mut self) {
        let (key, value) = self.label;
        metrics::histogram!(self.name, key => value).record(self.start.elapsed().as_secs_f64());
    }
}

/// Peak resident memory of this process (VmHWM), for benchmark reports.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
