//! Progress of a run: on a terminal an indicatif bar (ledgers done, rate,
//! current ledger, ETA for a bounded run; lag behind the tip for a live
//! one), otherwise a log line every `MONITORING_INTERVAL`. Child log lines
//! print above the bar.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;

use crate::security::ClientAccess;
use crate::telemetry::SinkProgress;

/// Prints lines to stderr without tearing the progress bar.
#[derive(Default)]
pub(crate) struct Printer {
    bar: Mutex<Option<ProgressBar>>,
}

impl Printer {
    /// Prints one line.
    pub fn line(&self, line: &str) {
        match &*self.bar.lock() {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn set_bar(&self, bar: Option<ProgressBar>) {
        *self.bar.lock() = bar;
    }
}

/// Asks the sink for its progress.
pub(crate) async fn snapshot(client: &reqwest::Client, sink_http: &str) -> Option<SinkProgress> {
    client
        .get(format!("http://{sink_http}/api/progress"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Keeps `tip` at the newest ledger the source can serve, looked up every
/// `interval` (a listing can be slow, so this runs beside the supervisor).
pub(crate) fn follow_tip(
    source: String,
    access: ClientAccess,
    interval: Duration,
) -> (Arc<AtomicU32>, tokio::task::JoinHandle<()>) {
    let tip = Arc::new(AtomicU32::new(0));
    let task = tokio::spawn({
        let tip = tip.clone();
        async move {
            loop {
                if let Ok(Some((_, last))) = crate::flight::available(&source, &access).await {
                    tip.store(last, Ordering::Relaxed);
                }
                tokio::time::sleep(interval).await;
            }
        }
    });
    (tip, task)
}

/// Follows and shows progress.
pub(crate) struct Progress {
    start: Option<u32>,
    end: Option<u32>,
    bar: Option<ProgressBar>,
    began: Instant,
    first_cursor: Option<u32>,
    last_line: Instant,
    interval: Duration,
}

impl Progress {
    /// Progress for a run over `start..=end` (live when `end` is `None`).
    pub fn new(
        start: Option<u32>,
        end: Option<u32>,
        interval: Duration,
        printer: &Printer,
    ) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match (start, end) {
                (Some(s), Some(e)) => ProgressBar::new(u64::from(e.saturating_sub(s)) + 1),
                _ => ProgressBar::new_spinner(),
            };
            let template = if end.is_some() {
                "{spinner} [{elapsed_precise}] {bar:32} {pos}/{len} ledgers {msg} ETA {eta}"
            } else {
                "{spinner} [{elapsed_precise}] {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        printer.set_bar(bar.clone());
        Progress {
            start,
            end,
            bar,
            began: Instant::now(),
            first_cursor: None,
            last_line: Instant::now(),
            interval,
        }
    }

    /// Updates from a sink snapshot; `tip` is the newest ledger available.
    pub(crate) fn update(&mut self, snap: &SinkProgress, tip: Option<u32>) {
        // Files commit every flush interval; what has arrived shows motion.
        let Some(cursor) = snap.ledger.or(snap.cursor) else {
            return;
        };
        let first = match self.start {
            Some(start) => start.saturating_sub(1),
            None => *self.first_cursor.get_or_insert(cursor),
        };
        let elapsed = self.began.elapsed().as_secs_f64().max(0.001);
        let rate = f64::from(cursor.saturating_sub(first)) / elapsed;
        let events_rate = snap.events as f64 / elapsed;
        let done = self
            .start
            .map(|s| u64::from(cursor.saturating_sub(s)) + 1)
            .unwrap_or(0);
        let lag = tip.map(|t| t.saturating_sub(cursor));
        let message = match (self.end, lag) {
            (Some(_), _) => format!("ledger {cursor}, {rate:.1} ledgers/s, {events_rate:.0} events/s"),
            (None, Some(lag)) => format!("ledger {cursor}, {rate:.1} ledgers/s, {events_rate:.0} events/s, {lag} behind the tip"),
            (None, None) => format!("ledger {cursor}, {rate:.1} ledgers/s, {events_rate:.0} events/s"),
        };
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(message);
            }
            None if self.last_line.elapsed() >= self.interval => {
                self.last_line = Instant::now();
                let share = match (self.start, self.end) {
                    (Some(s), Some(e)) => {
                        let total = f64::from(e.saturating_sub(s)) + 1.0;
                        let eta = if rate > 0.0 {
                            format!(", ETA {:.0}s", f64::from(e.saturating_sub(cursor)) / rate)
                        } else {
                            String::new()
                        };
                        format!(" ({:.0}% of {total:.0}{eta})", 100.0 * done as f64 / total)
                    }
                    _ => String::new(),
                };
                tracing::info!("progress: {message}{share}");
            }
            None => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self, printer: &Printer) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        printer.set_bar(None);
    }
}
