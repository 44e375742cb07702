//! The processor's Flight service: for a ticket it asks the source for the
//! same range, turns each ledger batch into an event batch covering the
//! same ledgers (decoding and extracting on blocking threads, several
//! batches at once, output in order), and serves it.

use std::sync::Arc;

use arrow::array::{Array, FixedSizeBinaryArray};
use arrow::datatypes::SchemaRef;
use futures::StreamExt;
use tokio::sync::watch;
use tonic::Status;

use super::batches::{contract_data_batch, ttp_batch};
use super::contract_data;
use super::filter::Filter;
use super::stats::ProcessorStats;
use super::ttp::{self, Decoder, ExtractError, Extractor, Mode};
use crate::flight::{ledger_batches, BatchStream, Form, LedgerBatch, RangeService, Ticket};
use crate::schema::ledger::LedgerRows;
use crate::schema::ledger_object::{self, ObjectRows};
use crate::security::ClientAccess;
use crate::stellar::ledger::LedgerView;
use crate::stellar::{
    decode_ledger, decompress_into, split_batch, DecodeError, Network, MAX_DECOMPRESSED,
};
use crate::telemetry::InFlight;

/// What the processor extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Token-transfer events.
    Ttp,
    /// Contract-data changes.
    ContractData,
}

/// How one ledger batch is processed.
#[derive(Clone)]
pub struct Extraction {
    /// What to extract.
    pub kind: Kind,
    /// TTP mode.
    pub mode: Mode,
    /// Which XDR decoder reads the ledgers.
    pub decoder: Decoder,
    /// The configured network (otherwise recognised from each ledger).
    pub network: Option<Network>,
    /// Run `verify` on every ledger.
    pub verify: bool,
    /// Which events to keep.
    pub filter: Arc<Filter>,
    /// XDR depth limit.
    pub depth: u32,
}

impl Extraction {
    /// The schema of the batches produced.
    pub fn schema(&self) -> SchemaRef {
        match self.kind {
            Kind::Ttp => crate::schema::ttp::schema(),
            Kind::ContractData => crate::schema::contract_data::schema(),
        }
    }

    fn network(&self, ids: &FixedSizeBinaryArray, row: usize) -> Result<Network, Status> {
        if let Some(network) = &self.network {
            return Ok(network.clone());
        }
        let id: [u8; 32] = ids
            .value(row)
            .try_into()
            .map_err(|_| Status::data_loss("network_id is not 32 bytes"))?;
        Network::from_id(&id).ok_or_else(|| {
            Status::failed_precondition(format!(
                "ledgers of an unknown network (id {}): pass --network with its passphrase",
                hex::encode(id)
            ))
        })
    }

    /// Turns one upstream batch (`stellar_ledger` rows, or data-lake
    /// objects) into an event batch over the same ledgers.
    pub fn process(
        &self,
        input: &LedgerBatch,
        stats: &ProcessorStats,
    ) -> Result<LedgerBatch, Status> {
        thread_local! {
            /// One extractor per worker thread: its ledger index is reused
            /// from batch to batch instead of growing anew for each.
            static EXTRACTOR: std::cell::RefCell<Extractor> = std::cell::RefCell::new(Extractor::new());
        }
        EXTRACTOR.with(|extractor| self.process_with(input, &mut extractor.borrow_mut(), stats))
    }

    fn process_with(
        &self,
        input: &LedgerBatch,
        extractor: &mut Extractor,
        stats: &ProcessorStats,
    ) -> Result<LedgerBatch, Status> {
        let mut found = Found::default();
        if ledger_object::is_objects(&input.batch) {
            self.objects(input, extractor, &mut found, stats)?;
        } else {
            let rows = LedgerRows::of(&input.batch)
                .map_err(|e| Status::failed_precondition(format!("upstream {e}")))?;
            let ids = input
                .batch
                .column_by_name("network_id")
                .and_then(|c| c.as_any().downcast_ref::<FixedSizeBinaryArray>())
                .ok_or_else(|| {
                    Status::failed_precondition("upstream stellar_ledger batch without network_id")
                })?;
            for row in 0..rows.sequence.len() {
                let sequence = rows.sequence.value(row);
                let xdr = rows.ledger_xdr.value(row);
                self.ledger(
                    sequence,
                    xdr,
                    || self.network(ids, row),
                    extractor,
                    &mut found,
                    stats,
                )?;
            }
        }
        let batch = match self.kind {
            Kind::Ttp => ttp_batch(&found.events),
            Kind::ContractData => contract_data_batch(&found.changes),
        }
        .map_err(|e| Status::internal(format!("building the event batch failed: {e}")))?;
        Ok(LedgerBatch {
            batch,
            meta: input.meta,
        })
    }

    /// The ledgers of a batch of data-lake objects, inside its range. The
    /// source passed the objects on unchecked, so they are checked here as
    /// the source checks them: size, zstd, the ledgers the key promises,
    /// each header's sequence and hash. Errors name the object.
    fn objects(
        &self,
        input: &LedgerBatch,
        extractor: &mut Extractor,
        found: &mut Found,
        stats: &ProcessorStats,
    ) -> Result<(), Status> {
        let rows = ObjectRows::of(&input.batch)
            .map_err(|e| Status::failed_precondition(format!("upstream {e}")))?;
        // One buffer for the batch's objects: no allocation (and no fresh
        // pages to fault in) per object; freed with the batch.
        let mut raw = Vec::new();
        for row in 0..rows.first.len() {
            let (first, last) = (rows.first.value(row), rows.last.value(row));
            let key = rows.key.value(row);
            let corrupt = |detail: String| {
                Status::data_loss(format!("{key} (ledgers {first}-{last}): {detail}"))
            };
            decompress_into(rows.object.value(row), MAX_DECOMPRESSED, &mut raw)
                .map_err(|e| corrupt(e.to_string()))?;
            let split = split_batch(&raw, self.depth).map_err(|e| corrupt(e.to_string()))?;
            if (split.start, split.end) != (first, last) {
                return Err(corrupt(format!(
                    "the object holds ledgers {}-{} but its key says {first}-{last}",
                    split.start, split.end
                )));
            }
            for (sequence, xdr) in (first..=last).zip(split.ledgers) {
                if sequence < input.meta.first_ledger || sequence > input.meta.last_ledger {
                    continue;
                }
                let network = || self.network(rows.network_id, row);
                self.ledger(sequence, xdr, network, extractor, found, stats)
                    .map_err(|e| match e.code() {
                        tonic::Code::DataLoss => corrupt(e.message().to_string()),
                        _ => e,
                    })?;
                let header = extractor
                    .checked_sequence(xdr, self.depth)
                    .map_err(corrupt)?;
                if header != sequence {
                    return Err(corrupt(format!(
                        "ledger #{} has sequence {header}, expected {sequence}",
                        sequence - first
                    )));
                }
            }
        }
        Ok(())
    }

    /// Extracts one ledger into `found`.
    fn ledger(
        &self,
        sequence: u32,
        xdr: &[u8],
        network: impl FnOnce() -> Result<Network, Status>,
        extractor: &mut Extractor,
        found: &mut Found,
        stats: &ProcessorStats,
    ) -> Result<(), Status> {
        let undecodable = |e: DecodeError| Status::data_loss(format!("ledger {sequence}: {e}"));
        match self.kind {
            Kind::ContractData => {
                let meta = decode_ledger(xdr, self.depth).map_err(undecodable)?;
                let changes = contract_data::extract(&meta);
                stats.ledger(sequence, changes.len(), "contract-data");
                found.changes.extend(changes);
            }
            Kind::Ttp => {
                let network = network()?;
                let (extracted, resolved) = extractor
                    .extract(xdr, &network, self.mode, self.decoder, self.depth)
                    .map_err(|e| match e {
                        ExtractError::Xdr(e) => undecodable(e),
                        ExtractError::Ttp(e) => Status::data_loss(e.to_string()),
                    })?;
                if self.verify {
                    // The oracle reads every entry change: it needs the
                    // whole ledger decoded, whichever decoder extracted.
                    let meta = decode_ledger(xdr, self.depth).map_err(undecodable)?;
                    ttp::verify::verify(&LedgerView::new(&meta), &extracted).map_err(|e| {
                        metrics::counter!("stellarflow_processor_verify_failures_total")
                            .increment(1);
                        Status::data_loss(format!("verify failed: {e}"))
                    })?;
                }
                let before = found.events.len();
                found
                    .events
                    .extend(extracted.into_iter().filter(|e| self.filter.keep(e)));
                let mode = if resolved == Mode::Unified {
                    "unified"
                } else {
                    "derived"
                };
                stats.ledger(sequence, found.events.len() - before, mode);
            }
        }
        Ok(())
    }
}

/// What one batch's ledgers gave.
#[derive(Default)]
struct Found {
    events: Vec<ttp::TtpEvent>,
    changes: Vec<super::batches::ContractDataChange>,
}

/// Serves event ranges.
pub struct ProcessorService {
    extraction: Extraction,
    source: watch::Receiver<String>,
    access: ClientAccess,
    workers: usize,
    bounds: (Option<u32>, Option<u32>),
    stats: Arc<ProcessorStats>,
}

impl ProcessorService {
    /// A service reading from the source at `source`, presenting `access`.
    pub fn new(
        extraction: Extraction,
        source: watch::Receiver<String>,
        access: ClientAccess,
        workers: usize,
        bounds: (Option<u32>, Option<u32>),
        stats: Arc<ProcessorStats>,
    ) -> Self {
        ProcessorService {
            extraction,
            source,
            access,
            workers,
            bounds,
            stats,
        }
    }

    /// The ticket clamped to `--start`/`--end`.
    fn clamp(&self, ticket: Ticket) -> Result<Ticket, Status> {
        let start = self.bounds.0.map_or(ticket.start, |s| ticket.start.max(s));
        let end = match (ticket.end, self.bounds.1) {
            (Some(e), Some(b)) => Some(e.min(b)),
            (None, b) => b,
            (e, None) => e,
        };
        if end.is_some_and(|e| start > e) {
            return Err(Status::out_of_range(format!(
                "ledgers {}..{:?} are outside this processor's range {:?}..{:?}",
                ticket.start, ticket.end, self.bounds.0, self.bounds.1
            )));
        }
        Ok(Ticket {
            start,
            end,
            ..ticket
        })
    }
}

#[tonic::async_trait]
impl RangeService for ProcessorService {
    fn schema(&self) -> SchemaRef {
        self.extraction.schema()
    }

    async fn available(&self) -> Result<Option<(u32, u32)>, Status> {
        let endpoint = self.source.borrow().clone();
        let mut client = crate::flight::connect(&endpoint, &self.access)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let mut flights = client
            .list_flights(arrow_flight::Criteria::default())
            .await?
            .into_inner();
        while let Some(info) = flights.message().await? {
            if let Some(descriptor) = info.flight_descriptor {
                let ticket = Ticket::parse(&descriptor.cmd)?;
                return Ok(ticket.end.map(|end| (ticket.start, end)));
            }
        }
        Ok(None)
    }

    async fn stream(&self, ticket: Ticket) -> Result<BatchStream, Status> {
        let ticket = self.clamp(ticket)?;
        tracing::info!(start = ticket.start, end = ?ticket.end, "serving events");
        let extraction = self.extraction.clone();
        let stats = self.stats.clone();
        let errors = self.stats.clone();
        // Objects as stored when the source has them: a seventh of the
        // bytes, and each ledger walked once, here.
        let upstream = ticket.with_form(Form::Objects);
        let batches = ledger_batches("source", self.source.clone(), upstream, self.access.clone())
            .map(move |item| {
                let extraction = extraction.clone();
                let stats = stats.clone();
                async move {
                    let input = item?;
                    let rows = input.batch.num_rows() as i64;
                    // Counted until extracted, or until a cancelled stream
                    // drops this future.
                    let _inflight = InFlight::new(stats.clone(), rows);
                    tokio::task::spawn_blocking(move || extraction.process(&input, &stats))
                        .await
                        .map_err(|e| Status::internal(format!("extraction thread failed: {e}")))?
                }
            })
            .buffered(self.workers.max(1))
            .inspect(move |item| {
                if let Err(status) = item {
                    errors.error();
                    tracing::warn!(code = ?status.code(), message = %status.message(), "event stream failed");
                }
            });
        Ok(batches.boxed())
    }
}
