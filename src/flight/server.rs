//! The Flight server adapter. A role implements `RangeService` (its schema,
//! what it has, and a stream of batches for a ticket); `FlightServer` does
//! the protocol: ticket parsing, `list_flights`, `get_flight_info`,
//! `get_schema`, and `do_get` encoding with per-batch `app_metadata`.

use std::pin::Pin;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions};
use arrow::record_batch::RecordBatch;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaAsIpc, SchemaResult,
};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::ticket::{BatchMeta, Ticket};
use super::MAX_MESSAGE_BYTES;
use tokio_util::sync::CancellationToken;

/// A record batch and the ledgers it completely covers.
#[derive(Debug, Clone)]
pub struct LedgerBatch {
    /// The rows (may be empty: progress through ledgers without rows).
    pub batch: RecordBatch,
    /// Ledgers covered.
    pub meta: BatchMeta,
}

/// Batches of one `do_get`.
pub type BatchStream = BoxStream<'static, Result<LedgerBatch, Status>>;

/// What a role serves over Flight.
#[tonic::async_trait]
pub trait RangeService: Send + Sync + 'static {
    /// The schema of every batch.
    fn schema(&self) -> SchemaRef;
    /// The schema of the batches for `ticket` (a source serves another
    /// form on request).
    fn schema_for(&self, _ticket: &Ticket) -> SchemaRef {
        self.schema()
    }
    /// The ledger range available now, if known.
    async fn available(&self) -> Result<Option<(u32, u32)>, Status>;
    /// Batches for `ticket`, in ledger order.
    async fn stream(&self, ticket: Ticket) -> Result<BatchStream, Status>;
}

/// Streams one Flight server serves at once by default. Each stream holds
/// read-ahead buffers, so without a cap a crowd of clients that read one
/// batch and stall could hold gigabytes.
pub const DEFAULT_MAX_STREAMS: usize = 64;

/// Serves a `RangeService` as `arrow.flight.protocol.FlightService`.
pub struct FlightServer<S> {
    service: Arc<S>,
    stop: CancellationToken,
    streams: Arc<tokio::sync::Semaphore>,
    max_streams: usize,
}

impl<S: RangeService> FlightServer<S> {
    /// Wraps `service`; when `stop` is cancelled, open streams end with
    /// `UNAVAILABLE` so consumers reconnect instead of mistaking the end of
    /// a stream for the end of their range.
    pub fn new(service: Arc<S>, stop: CancellationToken) -> Self {
        FlightServer {
            service,
            stop,
            streams: Arc::new(tokio::sync::Semaphore::new(DEFAULT_MAX_STREAMS)),
            max_streams: DEFAULT_MAX_STREAMS,
        }
    }

    /// Serves at most `max` `do_get` streams at once; more are refused
    /// with `RESOURCE_EXHAUSTED` until one ends.
    pub fn with_max_streams(mut self, max: usize) -> Self {
        self.streams = Arc::new(tokio::sync::Semaphore::new(max));
        self.max_streams = max;
        self
    }

    /// The tonic service, with message limits sized for ledger batches.
    pub(crate) fn into_grpc(self) -> FlightServiceServer<Self> {
        FlightServiceServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn info(&self, ticket: Ticket) -> Result<FlightInfo, Status> {
        let json = ticket.to_json();
        let mut info = FlightInfo::new()
            .try_with_schema(&self.service.schema_for(&ticket))
            .map_err(|e| Status::internal(format!("schema encoding failed: {e}")))?
            .with_descriptor(FlightDescriptor::new_cmd(json.clone()))
            .with_endpoint(FlightEndpoint::new().with_ticket(arrow_flight::Ticket::new(json)))
            .with_ordered(true);
        if let Some(end) = ticket.end {
            info = info.with_total_records(i64::from(end - ticket.start) + 1);
        }
        Ok(info)
    }
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Encodes batches as Flight messages: the schema first, then one message
/// per batch carrying its `BatchMeta` as `app_metadata`. Batches are never
/// split, so each message's metadata describes exactly its rows.
fn encode(schema: SchemaRef, batches: BatchStream) -> Boxed<FlightData> {
    let options = IpcWriteOptions::default();
    let schema_message: FlightData = SchemaAsIpc::new(&schema, &options).into();
    let generator = IpcDataGenerator::default();
    let mut tracker = DictionaryTracker::new(false);
    let mut context = IpcWriteContext::default();
    let data = batches.map(move |item| {
        let item = item?;
        let (dictionaries, encoded) = generator
            .encode(&item.batch, &mut tracker, &options, &mut context)
            .map_err(|e| Status::internal(format!("Arrow IPC encoding failed: {e}")))?;
        if !dictionaries.is_empty() {
            return Err(Status::internal(
                "dictionary columns are not supported on this stream",
            ));
        }
        let mut message: FlightData = encoded.into();
        message.app_metadata = serde_json::to_vec(&item.meta).unwrap_or_default().into();
        Ok(message)
    });
    Box::pin(futures::stream::once(async move { Ok(schema_message) }).chain(data))
}

/// Counts open streams in `stellarflow_flight_streams` until dropped.
struct StreamGauge;

impl StreamGauge {
    fn open() -> Self {
        metrics::gauge!("stellarflow_flight_streams").increment(1.0);
        StreamGauge
    }
}

impl Drop for StreamGauge {
    fn drop(&mut self) {
        metrics::gauge!("stellarflow_flight_streams").decrement(1.0);
    }
}

/// Ends `batches` with `UNAVAILABLE` once `stop` is cancelled, so a graceful
/// shutdown is not held open by a live stream.
fn until_stopped(batches: BatchStream, stop: CancellationToken) -> BatchStream {
    let stop: Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
        Box::pin(stop.cancelled_owned());
    futures::stream::unfold((batches, Some(stop)), |(mut batches, stop)| async move {
        let mut stop = stop?;
        tokio::select! {
            item = batches.next() => item.map(|item| (item, (batches, Some(stop)))),
            _ = &mut stop => {
                let status = Status::unavailable("the server is shutting down; reconnect to resume");
                Some((Err(status), (batches, None)))
            }
        }
    })
    .boxed()
}

#[tonic::async_trait]
impl<S: RangeService> FlightService for FlightServer<S> {
    type HandshakeStream = Boxed<HandshakeResponse>;
    type ListFlightsStream = Boxed<FlightInfo>;
    type DoGetStream = Boxed<FlightData>;
    type DoPutStream = Boxed<PutResult>;
    type DoExchangeStream = Boxed<FlightData>;
    type DoActionStream = Boxed<arrow_flight::Result>;
    type ListActionsStream = Boxed<ActionType>;

    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented("no handshake is needed"))
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let infos = match self.service.available().await? {
            Some((first, last)) => vec![Ok(self.info(Ticket::range(first, last))?)],
            None => Vec::new(),
        };
        Ok(Response::new(Box::pin(futures::stream::iter(infos))))
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = Ticket::parse(&request.into_inner().cmd)?;
        Ok(Response::new(self.info(ticket)?))
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(Status::unimplemented("use get_flight_info"))
    }

    async fn get_schema(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let options = IpcWriteOptions::default();
        let schema = self.service.schema();
        let result = SchemaResult::try_from(SchemaAsIpc::new(&schema, &options))
            .map_err(|e| Status::internal(format!("schema encoding failed: {e}")))?;
        Ok(Response::new(result))
    }

    async fn do_get(
        &self,
        request: Request<arrow_flight::Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let ticket = Ticket::parse(&request.into_inner().ticket)?;
        let permit = self.streams.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!("stellarflow_flight_streams_refused_total").increment(1);
            Status::resource_exhausted(format!(
                "this server already serves {} streams, its limit; retry when one ends",
                self.max_streams
            ))
        })?;
        let schema = self.service.schema_for(&ticket);
        let batches = self.service.stream(ticket).await?;
        let batches = until_stopped(batches, self.stop.clone());
        // The permit lives as long as the stream: released when it ends or
        // when the client goes away and tonic drops it.
        let open = StreamGauge::open();
        let batches = batches
            .map(move |item| {
                let _held = (&permit, &open);
                item
            })
            .boxed();
        Ok(Response::new(encode(schema, batches)))
    }

    async fn do_put(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        Err(Status::unimplemented(
            "this service only serves data (do_get)",
        ))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::unimplemented(
            "this service only serves data (do_get)",
        ))
    }

    async fn do_action(
        &self,
        _request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        Err(Status::unimplemented("no actions"))
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        Ok(Response::new(Box::pin(futures::stream::empty())))
    }
}

/// Serves a prepared tonic router on a bound listener until `shutdown`
/// (the caller spawns it where it tracks its tasks).
pub(crate) async fn serve_flight_grpc(
    listener: tokio::net::TcpListener,
    router: super::FlightRouter,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    if let Err(e) = router
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
    {
        tracing::error!(error = %e, "gRPC server stopped");
    }
}
