//! The source's Flight service: ledgers from the backend grouped into
//! `stellar_ledger` batches of about 1 MB (whatever is ready, never waiting
//! to fill a batch), bad ledgers skipped into quarantine under
//! `--on-error skip`, and producers slowed while the control plane signals
//! backpressure. Asked for the `objects` form, a data-lake source passes
//! its objects on as stored (`stellar_ledger_object`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use std::pin::Pin;

use futures::stream::{BoxStream, Peekable};
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use tokio::sync::watch;
use tonic::Status;

use super::error::SourceError;
use super::quarantine::Quarantine;
use super::stats::SourceStats;
use super::{Backend, LakeObject, SourcedLedger};
use crate::config::SourceSettings;
use crate::flight::{BatchMeta, BatchStream, Form, LedgerBatch, RangeService, Ticket};
use crate::flowctl::FlowSignal;
use crate::schema::ledger::{schema, LedgerRowsBuilder};
use crate::schema::ledger_object::{self, ObjectRowsBuilder};

/// Target Flight batch size.
const BATCH_BYTES: usize = 1 << 20;
/// Most ledgers in one batch.
const BATCH_LEDGERS: usize = 512;
/// Below this size a batch takes in ledgers from other objects (a copy);
/// above it, only ledgers that follow in the same object (a view).
const COPY_BELOW: usize = 64 << 10;
/// Target size of an object batch, compressed (about 7 MB of XDR).
const OBJECT_BATCH_BYTES: usize = 1 << 20;
/// Most objects in one batch: bounds what the consumer decompresses at once.
const OBJECT_BATCH_OBJECTS: usize = 16;

/// Serves ledger ranges.
pub struct SourceService {
    backend: Arc<Backend>,
    stats: Arc<SourceStats>,
    quarantine: Option<Arc<Quarantine>>,
    flow: Mutex<Option<watch::Receiver<FlowSignal>>>,
    max_rate: u32,
}

impl SourceService {
    /// A service over `backend`; `--on-error skip` opens the quarantine.
    pub fn new(
        backend: Arc<Backend>,
        stats: Arc<SourceStats>,
        settings: &SourceSettings,
    ) -> anyhow::Result<Self> {
        let quarantine = match settings.on_error.as_str() {
            "skip" => {
                let quarantine = Quarantine::open(std::path::Path::new(&settings.state_dir))?;
                tracing::info!(path = %quarantine.path().display(), "--on-error skip: bad ledgers are recorded here");
                Some(Arc::new(quarantine))
            }
            _ => None,
        };
        Ok(SourceService {
            backend,
            stats,
            quarantine,
            flow: Mutex::new(None),
            max_rate: settings.max_rate,
        })
    }

    /// Slows producers while `signal` advises it.
    pub fn follow_flow_control(&self, signal: watch::Receiver<FlowSignal>) {
        *self.flow.lock() = Some(signal);
    }

    /// Ledgers of `ticket` with skippable errors turned into quarantine
    /// records when `--on-error skip` is set.
    pub fn ledgers(
        &self,
        ticket: Ticket,
    ) -> BoxStream<'static, Result<SourcedLedger, SourceError>> {
        let quarantine = self.quarantine.clone();
        let stats = self.stats.clone();
        paced(self.backend.stream(ticket), self.max_rate, |_| 1)
            .filter_map(move |item| {
                let out = match (item, &quarantine) {
                    (Err(e), Some(q)) if e.skippable().is_some() => {
                        stats.skipped(q.record(&e));
                        None
                    }
                    (item, _) => Some(item),
                };
                futures::future::ready(out)
            })
            .boxed()
    }

    /// Whether `ticket` is answered with objects: asked for, the backend
    /// has them, and no quarantine (skipping a bad ledger needs each ledger
    /// checked here).
    fn serves_objects(&self, ticket: &Ticket) -> bool {
        ticket.form == Form::Objects
            && self.quarantine.is_none()
            && matches!(*self.backend, Backend::Lake(_))
    }
}

/// Releases at most `rate` ledgers per second (`0`: no limit), an item
/// counting as `ledgers(item)`. Read-ahead below keeps working, so a paced
/// replay still reads in parallel.
fn paced<T: Send + 'static>(
    items: BoxStream<'static, T>,
    rate: u32,
    ledgers: fn(&T) -> u32,
) -> BoxStream<'static, T> {
    if rate == 0 {
        return items;
    }
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    futures::stream::unfold((items, ticks), move |(mut items, mut ticks)| async move {
        ticks.tick().await;
        let item = items.next().await?;
        for _ in 1..ledgers(&item) {
            ticks.tick().await;
        }
        Some((item, (items, ticks)))
    })
    .boxed()
}

/// Ledgers as the batcher reads them: it looks at the next one before
/// taking it.
type LedgerStream = Pin<Box<Peekable<BoxStream<'static, Result<SourcedLedger, SourceError>>>>>;

struct Batcher {
    ledgers: LedgerStream,
    network_id: [u8; 32],
    stats: Arc<SourceStats>,
    flow: Option<watch::Receiver<FlowSignal>>,
    pending_error: Option<Status>,
    done: bool,
}

impl Batcher {
    /// The next batch: waits for one ledger, then takes whatever else is
    /// ready up to the size limits.
    async fn next(&mut self) -> Option<Result<LedgerBatch, Status>> {
        if let Some(status) = self.pending_error.take() {
            self.done = true;
            return Some(Err(status));
        }
        if self.done {
            return None;
        }
        let started = Instant::now();
        let mut rows = LedgerRowsBuilder::default();
        let mut range = (0, 0);
        match self.ledgers.next().await {
            None => return None,
            Some(Err(e)) => {
                self.stats.error();
                self.done = true;
                return Some(Err(e.status()));
            }
            Some(Ok(ledger)) => self.take(ledger, &mut rows, &mut range),
        }
        while rows.bytes() < BATCH_BYTES && rows.len() < BATCH_LEDGERS {
            // A ledger from another object is only worth a copy while the
            // batch is small; otherwise it starts the next batch.
            let ready = self.ledgers.as_mut().peek().now_or_never();
            if let Some(Some(Ok(next))) = ready {
                if rows.bytes() >= COPY_BELOW && !rows.continues(&next.xdr, &next.origin) {
                    break;
                }
            }
            match self.ledgers.next().now_or_never() {
                Some(Some(Ok(ledger))) => self.take(ledger, &mut rows, &mut range),
                Some(Some(Err(e))) => {
                    self.stats.error();
                    self.pending_error = Some(e.status());
                    break;
                }
                Some(None) => {
                    self.done = true;
                    break;
                }
                None => break,
            }
        }
        metrics::histogram!("stellarflow_source_batch_seconds")
            .record(started.elapsed().as_secs_f64());
        throttle(self.flow.clone(), started.elapsed()).await;
        let meta = BatchMeta {
            first_ledger: range.0,
            last_ledger: range.1,
        };
        let batch = match rows.finish() {
            Ok(batch) => batch,
            Err(e) => {
                self.done = true;
                return Some(Err(Status::internal(format!(
                    "building the ledger batch {}-{} failed: {e}",
                    range.0, range.1
                ))));
            }
        };
        Some(Ok(LedgerBatch { batch, meta }))
    }

    fn take(&self, ledger: SourcedLedger, rows: &mut LedgerRowsBuilder, range: &mut (u32, u32)) {
        if rows.is_empty() {
            range.0 = ledger.summary.sequence;
        }
        range.1 = ledger.summary.sequence;
        rows.push(
            &ledger.summary,
            &self.network_id,
            &ledger.xdr,
            &ledger.origin,
        );
        self.stats.inflight(-1);
        self.stats.sent(ledger.summary.sequence, ledger.xdr.len());
    }
}

/// Under backpressure at rate r, spends (1/r - 1) × the work time idle.
async fn throttle(flow: Option<watch::Receiver<FlowSignal>>, worked: Duration) {
    let Some(flow) = flow else { return };
    let rate = flow.borrow().throttle_rate;
    if rate < 1.0 && rate > 0.0 {
        let pause = worked.mul_f64(1.0 / rate - 1.0).min(Duration::from_secs(1));
        tokio::time::sleep(pause.max(Duration::from_millis(5))).await;
    }
}

/// Objects as `stellar_ledger_object` batches: whatever is ready, up to
/// the size limits, each batch covering its objects' ledgers inside the
/// ticket.
struct ObjectBatcher {
    objects: BoxStream<'static, Result<LakeObject, SourceError>>,
    ticket: Ticket,
    network_id: [u8; 32],
    stats: Arc<SourceStats>,
    flow: Option<watch::Receiver<FlowSignal>>,
    pending_error: Option<Status>,
    done: bool,
}

impl ObjectBatcher {
    async fn next(&mut self) -> Option<Result<LedgerBatch, Status>> {
        if let Some(status) = self.pending_error.take() {
            self.done = true;
            return Some(Err(status));
        }
        if self.done {
            return None;
        }
        let started = Instant::now();
        let mut rows = ObjectRowsBuilder::default();
        let mut range = (0, 0);
        match self.objects.next().await {
            None => return None,
            Some(Err(e)) => {
                self.stats.error();
                self.done = true;
                return Some(Err(e.status()));
            }
            Some(Ok(object)) => self.take(object, &mut rows, &mut range),
        }
        while rows.bytes() < OBJECT_BATCH_BYTES && rows.len() < OBJECT_BATCH_OBJECTS {
            match self.objects.next().now_or_never() {
                Some(Some(Ok(object))) => self.take(object, &mut rows, &mut range),
                Some(Some(Err(e))) => {
                    self.stats.error();
                    self.pending_error = Some(e.status());
                    break;
                }
                Some(None) => {
                    self.done = true;
                    break;
                }
                None => break,
            }
        }
        metrics::histogram!("stellarflow_source_batch_seconds")
            .record(started.elapsed().as_secs_f64());
        throttle(self.flow.clone(), started.elapsed()).await;
        let meta = BatchMeta {
            first_ledger: range.0,
            last_ledger: range.1,
        };
        match rows.finish() {
            Ok(batch) => Some(Ok(LedgerBatch { batch, meta })),
            Err(e) => {
                self.done = true;
                Some(Err(Status::internal(format!(
                    "building the object batch {}-{} failed: {e}",
                    range.0, range.1
                ))))
            }
        }
    }

    fn take(&self, object: LakeObject, rows: &mut ObjectRowsBuilder, range: &mut (u32, u32)) {
        // The batch covers only the ticket's ledgers; the consumer leaves
        // out the rest of a first or last object.
        let first = object.first.max(self.ticket.start);
        let last = self
            .ticket
            .end
            .map_or(object.last, |end| object.last.min(end));
        if rows.is_empty() {
            range.0 = first;
        }
        range.1 = last;
        rows.push(
            object.first,
            object.last,
            &self.network_id,
            &object.key,
            &object.bytes,
        );
        self.stats.inflight(-1);
        // The XDR size is the frame's declared content size, when it has one.
        let xdr = zstd::zstd_safe::get_frame_content_size(&object.bytes)
            .ok()
            .flatten()
            .unwrap_or(0);
        let ledgers = u64::from(last.saturating_sub(first)) + 1;
        self.stats.sent_many(last, ledgers, xdr as usize);
    }
}

#[tonic::async_trait]
impl RangeService for SourceService {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn schema_for(&self, ticket: &Ticket) -> SchemaRef {
        if self.serves_objects(ticket) {
            ledger_object::schema()
        } else {
            schema()
        }
    }

    async fn available(&self) -> Result<Option<(u32, u32)>, Status> {
        self.backend.available().await.map_err(|e| e.status())
    }

    async fn stream(&self, ticket: Ticket) -> Result<BatchStream, Status> {
        if self.serves_objects(&ticket) {
            if let Some(objects) = self.backend.objects(ticket) {
                tracing::info!(start = ticket.start, end = ?ticket.end, "serving lake objects");
                let batcher = ObjectBatcher {
                    objects: paced(objects, self.max_rate, |item| match item {
                        Ok(o) => o.last - o.first + 1,
                        Err(_) => 1,
                    }),
                    ticket,
                    network_id: self.backend.network().id,
                    stats: self.stats.clone(),
                    flow: self.flow.lock().clone(),
                    pending_error: None,
                    done: false,
                };
                return Ok(futures::stream::unfold(batcher, |mut b| async move {
                    b.next().await.map(|item| (item, b))
                })
                .boxed());
            }
        }
        tracing::info!(start = ticket.start, end = ?ticket.end, "serving ledgers");
        let batcher = Batcher {
            ledgers: Box::pin(self.ledgers(ticket).peekable()),
            network_id: self.backend.network().id,
            stats: self.stats.clone(),
            flow: self.flow.lock().clone(),
            pending_error: None,
            done: false,
        };
        Ok(futures::stream::unfold(batcher, |mut b| async move {
            b.next().await.map(|item| (item, b))
        })
        .boxed())
    }
}
