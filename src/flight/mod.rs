//! Arrow Flight as every role speaks it: a ticket is JSON
//! `{"start": S, "end": E}` (`end` absent = follow live); every record batch
//! covers a whole range of ledgers and says which in its `app_metadata`, so
//! a consumer knows its progress even through ledgers without rows. One
//! server adapter serves any `RangeService`; one client reads any of them.

mod client;
mod server;
mod ticket;
mod upstream;

pub use client::{available, connect, fetch, FlightClient, FlightClientError, LedgerBatchStream};
pub(crate) use server::serve_flight_grpc;
pub use server::{BatchStream, FlightServer, LedgerBatch, RangeService, DEFAULT_MAX_STREAMS};
pub use ticket::{BatchMeta, Form, Ticket};
pub use upstream::ledger_batches;

/// HTTP/2 flow-control windows for Flight streams. h2's default (64 KB)
/// stalls every megabyte-sized batch on round trips; these keep a few
/// batches in flight per stream and still bound memory.
pub(crate) const STREAM_WINDOW: u32 = 8 << 20;
/// Connection-wide window (several streams).
pub(crate) const CONNECTION_WINDOW: u32 = 32 << 20;

/// Largest HTTP/2 frame our peers may send us. h2's default (16 KB) cuts a
/// megabyte batch into 64 frames, each parsed and copied on its own.
pub(crate) const MAX_FRAME: u32 = 1 << 20;

/// A tonic server builder tuned for Flight streams.
pub(crate) fn server_builder() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .tcp_nodelay(true)
}

/// The layers every Flight server has: the bearer-token check.
pub(crate) type FlightLayer = tower_layer::Stack<
    tonic::service::InterceptorLayer<crate::security::RequireToken>,
    tower_layer::Identity,
>;

/// A Flight server's services, behind [`FlightLayer`].
pub(crate) type FlightRouter = tonic::transport::server::Router<FlightLayer>;

/// Largest gRPC message our clients and servers accept (batches are sized
/// well below this; real ledgers can reach a few MB each).
pub(crate) const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
