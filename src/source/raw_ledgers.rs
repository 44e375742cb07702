//! flowctl's `LedgerSource` service on the Flight port: raw ledgers one by
//! one for flowctl-native consumers, plus `Ping` and `Shutdown`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use futures::stream::BoxStream;
use futures::StreamExt;
use tonic::{Request, Response, Status};

use super::Backend;
use crate::flight::Ticket;
use crate::flowctl::proto::flowctl::ledger_source_server::LedgerSource;
use crate::flowctl::proto::flowctl::{Pong, RawLedger, ShutdownRequest, SourceRequest};
use crate::stellar::Network;
use tokio_util::sync::CancellationToken;

/// Serves `flowctl.LedgerSource`.
pub(crate) struct RawLedgerService {
    backend: Arc<Backend>,
    stop: CancellationToken,
}

impl RawLedgerService {
    /// A service over `backend`; `Shutdown` cancels `stop`.
    pub fn new(backend: Arc<Backend>, stop: CancellationToken) -> Self {
        RawLedgerService { backend, stop }
    }
}

#[tonic::async_trait]
impl LedgerSource for RawLedgerService {
    type StreamRawLedgersStream = BoxStream<'static, Result<RawLedger, Status>>;

    async fn stream_raw_ledgers(
        &self,
        request: Request<SourceRequest>,
    ) -> Result<Response<Self::StreamRawLedgersStream>, Status> {
        let request = request.into_inner();
        let served = self.backend.network().clone();
        if !request.network.is_empty() {
            let wanted = Network::parse(&request.network).map_err(Status::invalid_argument)?;
            if wanted != served {
                return Err(Status::invalid_argument(format!(
                    "network mismatch: requested {wanted}, this source serves {served}"
                )));
            }
        }
        let end = match request.params.get("end_ledger") {
            Some(text) => Some(text.parse::<u32>().map_err(|_| {
                Status::invalid_argument(format!(
                    "params.end_ledger {text:?} is not a ledger number"
                ))
            })?),
            None => None,
        };
        let ticket = match end {
            Some(end) => Ticket::range(request.start_ledger, end),
            None => Ticket::live(request.start_ledger),
        };
        if let Some(end) = end {
            if request.start_ledger > end {
                return Err(Status::invalid_argument(format!(
                    "start_ledger {} is after end_ledger {end}",
                    request.start_ledger
                )));
            }
        }
        let network = served.passphrase.clone();
        let stream = self.backend.stream(ticket).map(move |item| {
            let ledger = item.map_err(|e| e.status())?;
            let metadata: HashMap<String, String> = [
                ("hash".to_string(), hex::encode(ledger.summary.hash)),
                (
                    "protocol_version".to_string(),
                    ledger.summary.protocol_version.to_string(),
                ),
            ]
            .into();
            Ok(RawLedger {
                ledger_sequence: ledger.summary.sequence,
                xdr_data: ledger.xdr.to_vec(),
                timestamp: Some(
                    (UNIX_EPOCH + Duration::from_secs(ledger.summary.close_time)).into(),
                ),
                network: network.clone(),
                metadata,
            })
        });
        Ok(Response::new(stream.boxed()))
    }

    async fn ping(&self, _request: Request<()>) -> Result<Response<Pong>, Status> {
        Ok(Response::new(Pong {
            version: env!("CARGO_PKG_VERSION").to_string(),
            healthy: !self.stop.is_cancelled(),
        }))
    }

    async fn shutdown(&self, request: Request<ShutdownRequest>) -> Result<Response<()>, Status> {
        let request = request.into_inner();
        tracing::info!(graceful = request.graceful, reason = %request.reason, "Shutdown requested");
        self.stop.cancel();
        Ok(Response::new(()))
    }
}
