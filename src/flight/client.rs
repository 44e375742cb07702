//! Reading a range from any stellarflow Flight service.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::buffer::Buffer;
use arrow::datatypes::SchemaRef;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::FlightData;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::security::{BearerToken, ClientAccess};

use super::server::LedgerBatch;
use super::ticket::{BatchMeta, Ticket};
use super::MAX_MESSAGE_BYTES;

/// Why reading from an upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum FlightClientError {
    /// Could not connect.
    #[error("cannot connect to Flight service at {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{endpoint} answered {code:?}: {message}")]
    Status {
        /// The endpoint.
        endpoint: String,
        /// gRPC code.
        code: tonic::Code,
        /// Its message.
        message: String,
    },
    /// The stream broke or held something that is not ours.
    #[error("stream from {endpoint} failed: {reason}")]
    Stream {
        /// The endpoint.
        endpoint: String,
        /// What failed.
        reason: String,
    },
}

impl FlightClientError {
    /// Whether retrying (after a reconnect) can help: connection problems and
    /// transient server states, not a refused request or bad data.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            FlightClientError::Connect { .. } => true,
            FlightClientError::Stream { .. } => true,
            FlightClientError::Status { code, .. } => matches!(
                code,
                tonic::Code::Unavailable
                    | tonic::Code::Cancelled
                    | tonic::Code::Aborted
                    | tonic::Code::Unknown
            ),
        }
    }
}

/// Batches read from an upstream.
pub type LedgerBatchStream = BoxStream<'static, Result<LedgerBatch, FlightClientError>>;

/// A Flight client with the bearer token on every request.
pub type FlightClient = FlightServiceClient<InterceptedService<Channel, BearerToken>>;

/// Connects to `endpoint` (`host:port` or a URI) as `access` says: with
/// its token, and over TLS when it has a CA.
pub async fn connect(
    endpoint: &str,
    access: &ClientAccess,
) -> Result<FlightClient, FlightClientError> {
    let fail = |reason: String| FlightClientError::Connect {
        endpoint: endpoint.to_string(),
        reason,
    };
    let channel = access
        .endpoint(endpoint)
        .map_err(fail)?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        .initial_stream_window_size(super::STREAM_WINDOW)
        .initial_connection_window_size(super::CONNECTION_WINDOW)
        .max_frame_size(super::MAX_FRAME)
        .connect()
        .await
        .map_err(|e| fail(connect_reason(&e)))?;
    Ok(
        FlightServiceClient::with_interceptor(channel, access.interceptor())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    )
}

/// The transport error with its causes: tonic's own text is only
/// "transport error", which hides a refused connection or a TLS failure.
fn connect_reason(error: &tonic::transport::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// The ledger range `endpoint` can serve now (its `ListFlights`), if it
/// reports one.
pub async fn available(
    endpoint: &str,
    access: &ClientAccess,
) -> Result<Option<(u32, u32)>, FlightClientError> {
    let mut client = connect(endpoint, access).await?;
    let status = |s: tonic::Status| FlightClientError::Status {
        endpoint: endpoint.to_string(),
        code: s.code(),
        message: s.message().to_string(),
    };
    let mut infos = client
        .list_flights(arrow_flight::Criteria::default())
        .await
        .map_err(status)?
        .into_inner();
    while let Some(info) = infos.message().await.map_err(status)? {
        let ticket = info
            .flight_descriptor
            .as_ref()
            .and_then(|d| Ticket::parse(&d.cmd).ok());
        if let Some(ticket) = ticket {
            return Ok(Some((ticket.start, ticket.end.unwrap_or(ticket.start))));
        }
    }
    Ok(None)
}

/// Requests `ticket` from `endpoint` and streams its batches with their
/// ledger ranges.
pub async fn fetch(
    endpoint: &str,
    ticket: Ticket,
    access: &ClientAccess,
) -> Result<LedgerBatchStream, FlightClientError> {
    let mut client = connect(endpoint, access).await?;
    let owner = endpoint.to_string();
    let response = client
        .do_get(arrow_flight::Ticket::new(ticket.to_json()))
        .await
        .map_err(|s| FlightClientError::Status {
            endpoint: owner.clone(),
            code: s.code(),
            message: s.message().to_string(),
        })?;
    let endpoint = endpoint.to_string();
    let mut schema: Option<SchemaRef> = None;
    let stream = response
        .into_inner()
        .map_err({
            let owner = owner.clone();
            move |s| FlightClientError::Status {
                endpoint: owner.clone(),
                code: s.code(),
                message: s.message().to_string(),
            }
        })
        .try_filter_map(move |data| {
            let decoded = decode(&mut schema, data).map_err(|reason| FlightClientError::Stream {
                endpoint: endpoint.clone(),
                reason,
            });
            futures::future::ready(decoded)
        });
    Ok(stream.boxed())
}

/// One Flight message: the schema (remembered), or a record batch with its
/// ledger range. The body becomes the batch's buffer without a copy (arrow
/// copies only the few small buffers whose alignment its types need), which
/// matters for megabytes of ledger XDR per batch.
fn decode(schema: &mut Option<SchemaRef>, data: FlightData) -> Result<Option<LedgerBatch>, String> {
    use arrow::ipc::MessageHeader;
    let message = arrow::ipc::root_as_message(&data.data_header[..])
        .map_err(|e| format!("not an Arrow IPC message: {e}"))?;
    match message.header_type() {
        MessageHeader::NONE => Ok(None),
        MessageHeader::Schema => {
            let ipc = message
                .header_as_schema()
                .ok_or("a schema message without a schema")?;
            let decoded = arrow::ipc::convert::try_fb_to_schema(ipc)
                .map_err(|e| format!("undecodable schema: {e}"))?;
            *schema = Some(Arc::new(decoded));
            Ok(None)
        }
        MessageHeader::RecordBatch => {
            let schema = schema
                .clone()
                .ok_or("a record batch arrived before the schema")?;
            let header = message
                .header_as_record_batch()
                .ok_or("a record batch message without its header")?;
            let meta: BatchMeta = serde_json::from_slice(&data.app_metadata).map_err(|_| {
                "a record batch arrived without its ledger range (app_metadata)".to_string()
            })?;
            let body = Buffer::from(data.data_body);
            let batch = arrow::ipc::reader::read_record_batch(
                &body,
                header,
                schema,
                &HashMap::new(),
                None,
                &message.version(),
            )
            .map_err(|e| format!("undecodable record batch: {e}"))?;
            Ok(Some(LedgerBatch { batch, meta }))
        }
        other => Err(format!(
            "unexpected {other:?} message (stellarflow streams have no dictionaries)"
        )),
    }
}
