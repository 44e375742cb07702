//! Reading a range from any stellarflow Flight service.

use arrow_flight::decode::{DecodedPayload, FlightDataDecoder};
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tonic::transport::{Channel, Endpoint};

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
    pub fn is_transient(&self) -> bool {
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

/// Connects to `endpoint` (`host:port` or a URI).
pub async fn connect(endpoint: &str) -> Result<FlightServiceClient<Channel>, FlightClientError> {
    let uri = if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    };
    let fail = |reason: String| FlightClientError::Connect {
        endpoint: endpoint.to_string(),
        reason,
    };
    let channel = Endpoint::from_shared(uri)
        .map_err(|e| fail(e.to_string()))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        .initial_stream_window_size(super::STREAM_WINDOW)
        .initial_connection_window_size(super::CONNECTION_WINDOW)
        .connect()
        .await
        .map_err(|e| fail(format!("{e}")))?;
    Ok(FlightServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// The ledger range `endpoint` can serve now (its `ListFlights`), if it
/// reports one.
pub async fn available(endpoint: &str) -> Result<Option<(u32, u32)>, FlightClientError> {
    let mut client = connect(endpoint).await?;
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
pub async fn fetch(endpoint: &str, ticket: Ticket) -> Result<LedgerBatchStream, FlightClientError> {
    let mut client = connect(endpoint).await?;
    let owner = endpoint.to_string();
    let response = client
        .do_get(arrow_flight::Ticket::new(ticket.to_json()))
        .await
        .map_err(|s| FlightClientError::Status {
            endpoint: owner.clone(),
            code: s.code(),
            message: s.message().to_string(),
        })?;
    let frames = response
        .into_inner()
        .map_err(|s| FlightError::Tonic(Box::new(s)));
    let decoder = FlightDataDecoder::new(frames);
    let stream = decoder
        .map_err(move |e| match e {
            FlightError::Tonic(s) => FlightClientError::Status {
                endpoint: owner.clone(),
                code: s.code(),
                message: s.message().to_string(),
            },
            other => FlightClientError::Stream {
                endpoint: owner.clone(),
                reason: other.to_string(),
            },
        })
        .try_filter_map(|decoded| async move {
            let meta: Option<BatchMeta> = serde_json::from_slice(&decoded.inner.app_metadata).ok();
            Ok(match decoded.payload {
                DecodedPayload::RecordBatch(batch) => Some((batch, meta)),
                _ => None,
            })
        })
        .and_then({
            let endpoint = endpoint.to_string();
            move |(batch, meta)| {
                let endpoint = endpoint.clone();
                async move {
                    let meta = meta.ok_or_else(|| FlightClientError::Stream {
                        endpoint,
                        reason: "a record batch arrived without its ledger range (app_metadata)"
                            .into(),
                    })?;
                    Ok(LedgerBatch { batch, meta })
                }
            }
        });
    Ok(stream.boxed())
}
