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
use crate::config::{OnError, SourceSettings};
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
        let quarantine = match settings.on_error {
            OnError::Skip => {
                let quarantine = Quarantine::open(std::path::Path::new(&settings.state_dir))?;
                tracing::info!(path = %quarantine.path().display(), "--on-error skip: bad ledgers are recorded here");
                Some(Arc::new(quarantine))
            }
            OnError::Fail => None,
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
    pub(crate) fn follow_flow_control(&self, signal: watch::Receiver<FlowSignal>) {
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

/// What a batcher needs to fill rows of either form.
struct Context {
    ticket: Ticket,
    network_id: [u8; 32],
    stats: Arc<SourceStats>,
}

/// The rows of one form, as a batcher fills them.
trait Rows<T>: Default {
    /// Whether the batch is complete; `next` is the following item when it
    /// is ready already.
    fn full(&self, next: Option<&T>) -> bool;
    /// Adds `item`; the first and last ledger of the ticket it covers.
    fn add(&mut self, item: T, context: &Context) -> (u32, u32);
    /// The pending rows as a batch.
    fn finish(&mut self) -> Result<arrow::record_batch::RecordBatch, arrow::error::ArrowError>;
}

impl Rows<SourcedLedger> for LedgerRowsBuilder {
    fn full(&self, next: Option<&SourcedLedger>) -> bool {
        // A ledger from another object is only worth a copy while the
        // batch is small; otherwise it starts the next batch.
        let elsewhere = next.is_some_and(|n| !self.continues(&n.xdr, &n.origin));
        self.bytes() >= BATCH_BYTES
            || self.len() >= BATCH_LEDGERS
            || (elsewhere && self.bytes() >= COPY_BELOW)
    }

    fn add(&mut self, ledger: SourcedLedger, context: &Context) -> (u32, u32) {
        let sequence = ledger.summary.sequence;
        self.push(
            &ledger.summary,
            &context.network_id,
            &ledger.xdr,
            &ledger.origin,
        );
        context.stats.sent(sequence, ledger.xdr.len());
        (sequence, sequence)
    }

    fn finish(&mut self) -> Result<arrow::record_batch::RecordBatch, arrow::error::ArrowError> {
        LedgerRowsBuilder::finish(self)
    }
}

impl Rows<LakeObject> for ObjectRowsBuilder {
    fn full(&self, _next: Option<&LakeObject>) -> bool {
        self.bytes() >= OBJECT_BATCH_BYTES || self.len() >= OBJECT_BATCH_OBJECTS
    }

    fn add(&mut self, object: LakeObject, context: &Context) -> (u32, u32) {
        // The batch covers only the ticket's ledgers; the consumer leaves
        // out the rest of a first or last object.
        let ticket = &context.ticket;
        let first = object.first.max(ticket.start);
        let last = ticket.end.map_or(object.last, |end| object.last.min(end));
        self.push(
            object.first,
            object.last,
            &context.network_id,
            &object.key,
            &object.bytes,
        );
        // The XDR size is the frame's declared content size, when it has one.
        let xdr = zstd::zstd_safe::get_frame_content_size(&object.bytes)
            .ok()
            .flatten()
            .unwrap_or(0);
        let ledgers = u64::from(last.saturating_sub(first)) + 1;
        context.stats.sent_many(last, ledgers, xdr as usize);
        (first, last)
    }

    fn finish(&mut self) -> Result<arrow::record_batch::RecordBatch, arrow::error::ArrowError> {
        ObjectRowsBuilder::finish(self)
    }
}

/// Items as the batcher reads them: it looks at the next one before
/// taking it.
type Items<T> = Pin<Box<Peekable<BoxStream<'static, Result<T, SourceError>>>>>;

/// Groups items (ledgers or objects) into batches of `R` rows.
struct Batcher<T, R> {
    items: Items<T>,
    context: Context,
    flow: Option<watch::Receiver<FlowSignal>>,
    pending_error: Option<Status>,
    done: bool,
    rows: std::marker::PhantomData<R>,
}

impl<T: Send + 'static, R: Rows<T>> Batcher<T, R> {
    fn new(
        items: BoxStream<'static, Result<T, SourceError>>,
        context: Context,
        flow: Option<watch::Receiver<FlowSignal>>,
    ) -> Self {
        Batcher {
            items: Box::pin(items.peekable()),
            context,
            flow,
            pending_error: None,
            done: false,
            rows: std::marker::PhantomData,
        }
    }

    /// The batches, one after another.
    fn stream(self) -> BatchStream
    where
        R: Send + 'static,
    {
        futures::stream::unfold(
            self,
            |mut b| async move { b.next().await.map(|item| (item, b)) },
        )
        .boxed()
    }

    /// The next batch: waits for one item, then takes whatever else is
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
        let mut rows = R::default();
        let (first, mut last) = match self.items.next().await {
            None => return None,
            Some(Err(e)) => {
                self.context.stats.error();
                self.done = true;
                return Some(Err(e.status()));
            }
            Some(Ok(item)) => rows.add(item, &self.context),
        };
        loop {
            let ready = match self.items.as_mut().peek().now_or_never() {
                Some(Some(Ok(next))) => Some(next),
                _ => None,
            };
            if rows.full(ready) {
                break;
            }
            match self.items.next().now_or_never() {
                Some(Some(Ok(item))) => last = rows.add(item, &self.context).1,
                Some(Some(Err(e))) => {
                    self.context.stats.error();
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
            first_ledger: first,
            last_ledger: last,
        };
        match rows.finish() {
            Ok(batch) => Some(Ok(LedgerBatch { batch, meta })),
            Err(e) => {
                self.done = true;
                Some(Err(Status::internal(format!(
                    "building the batch of ledgers {first}-{last} failed: {e}"
                ))))
            }
        }
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
        let context = Context {
            ticket,
            network_id: self.backend.network().id,
            stats: self.stats.clone(),
        };
        let flow = self.flow.lock().clone();
        if self.serves_objects(&ticket) {
            if let Some(objects) = self.backend.objects(ticket) {
                tracing::info!(start = ticket.start, end = ?ticket.end, "serving lake objects");
                let objects = paced(objects, self.max_rate, |item| match item {
                    Ok(o) => o.last - o.first + 1,
                    Err(_) => 1,
                });
                return Ok(Batcher::<_, ObjectRowsBuilder>::new(objects, context, flow).stream());
            }
        }
        tracing::info!(start = ticket.start, end = ?ticket.end, "serving ledgers");
        Ok(Batcher::<_, LedgerRowsBuilder>::new(self.ledgers(ticket), context, flow).stream())
    }
}
