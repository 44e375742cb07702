//! `stellarflow source`: reads ledgers from a data lake or Stellar RPC and
//! serves them over Arrow Flight (`stellar_ledger` rows) and flowctl's
//! `LedgerSource.StreamRawLedgers`, registered with the control plane as a
//! SOURCE.

mod datalake;
mod error;
mod quarantine;
mod raw_ledgers;
mod rpc;
mod service;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;

pub use datalake::DataLake;
pub use error::SourceError;
pub use rpc::Rpc;
pub use service::SourceService;
pub use stats::SourceStats;

use crate::config::{Config, Role};
use crate::flight::{FlightServer, Ticket};
use crate::flowctl::proto::flowctl::ledger_source_server::LedgerSourceServer;
use crate::flowctl::proto::flowctl::ServiceType;
use crate::flowctl::{NETWORK_KEY, STELLAR_LEDGER_EVENT};
use crate::runtime::{start_role, Registration, RoleHandle};
use crate::stellar::{LedgerSummary, Network};
use crate::telemetry::{install_metrics, InFlight};

/// One ledger as the source serves it.
#[derive(Debug, Clone)]
pub struct SourcedLedger {
    /// Its summary.
    pub summary: LedgerSummary,
    /// The raw `LedgerCloseMeta` XDR.
    pub xdr: Bytes,
    /// The buffer `xdr` is a slice of (the decompressed object; `xdr`
    /// itself for RPC), so consecutive ledgers of one object are served
    /// without copying.
    pub origin: Bytes,
    /// What the ledger holds until it is sent or dropped, shared with the
    /// other ledgers of its object.
    pub(crate) _held: Option<Arc<Held>>,
}

/// What read-ahead work holds until it is sent or dropped (done, or
/// abandoned by a client that went away): its count in the in-flight gauge
/// and its share of the decompression budget.
#[derive(Debug)]
pub(crate) struct Held {
    _inflight: InFlight<SourceStats>,
    _budget: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Held {
    /// Holds `inflight` and, for a decompressed object, its `budget`.
    pub(crate) fn new(
        inflight: InFlight<SourceStats>,
        budget: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Self {
        Held {
            _inflight: inflight,
            _budget: budget,
        }
    }
}

/// One data-lake object as stored, for the `objects` form.
#[derive(Debug, Clone)]
pub struct LakeObject {
    /// Its key in the lake.
    pub key: String,
    /// The first ledger its key promises.
    pub first: u32,
    /// The last ledger its key promises.
    pub last: u32,
    /// The compressed bytes.
    pub bytes: Bytes,
    /// What the object holds until it is sent or dropped.
    pub(crate) _held: Option<Arc<Held>>,
}

/// Where ledgers come from.
pub enum Backend {
    /// A SEP-54 data lake.
    Lake(Arc<DataLake>),
    /// A Stellar RPC server.
    Rpc(Arc<Rpc>),
}

impl Backend {
    /// Opens the backend the settings name.
    pub async fn open(config: &Config, stats: Arc<SourceStats>) -> anyhow::Result<Self> {
        let settings = &config.settings.source;
        match (&settings.datalake, &settings.rpc_url) {
            (Some(lake), None) => Ok(Backend::Lake(Arc::new(DataLake::open(lake, settings, stats).await?))),
            (None, Some(url)) => Ok(Backend::Rpc(Arc::new(Rpc::open(url, settings, stats).await?))),
            (Some(_), Some(_)) => anyhow::bail!("set either --datalake or --rpc-url, not both"),
            (None, None) => anyhow::bail!(
                "no ledger backend: pass --datalake DIR|s3://..|gs://.. or --rpc-url URL (or `stellarflow generate --out DIR` to make a lake)"
            ),
        }
    }

    /// The network served.
    pub fn network(&self) -> &Network {
        match self {
            Backend::Lake(lake) => lake.network(),
            Backend::Rpc(rpc) => rpc.network(),
        }
    }

    /// `datalake` or `rpc`, and where.
    pub(crate) fn describe(&self) -> (&'static str, String) {
        match self {
            Backend::Lake(lake) => ("datalake", lake.url().to_string()),
            Backend::Rpc(rpc) => ("rpc", rpc.url().to_string()),
        }
    }

    /// Ledgers of `ticket`, in order; errors are items.
    pub fn stream(&self, ticket: Ticket) -> BoxStream<'static, Result<SourcedLedger, SourceError>> {
        match self {
            Backend::Lake(lake) => lake.clone().stream(ticket),
            Backend::Rpc(rpc) => rpc.clone().stream(ticket),
        }
    }

    /// The objects holding `ticket`'s ledgers, as stored; `None` when the
    /// backend has no objects (Stellar RPC).
    pub fn objects(
        &self,
        ticket: Ticket,
    ) -> Option<BoxStream<'static, Result<LakeObject, SourceError>>> {
        match self {
            Backend::Lake(lake) => Some(lake.clone().objects(ticket)),
            Backend::Rpc(_) => None,
        }
    }

    /// The range available now.
    pub async fn available(&self) -> Result<Option<(u32, u32)>, SourceError> {
        match self {
            Backend::Lake(lake) => lake.available().await,
            Backend::Rpc(rpc) => rpc.available().await,
        }
    }
}

/// A source serving in this process.
pub struct Running {
    /// Bound Flight (and LedgerSource) address.
    pub flight_addr: SocketAddr,
    /// Bound HTTP address.
    pub http_addr: SocketAddr,
    /// Counters.
    pub stats: Arc<SourceStats>,
    handle: RoleHandle,
}

impl Running {
    /// Resolves when a stop was asked (the `Shutdown` RPC).
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.handle.stop.clone().cancelled_owned()
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}

/// Opens the backend and starts serving.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    start_on(config, crate::runtime::bind(Role::Source, config).await?).await
}

/// Starts serving on sockets the caller bound (tests that must know the
/// address before the role exists bind first, with no window in between).
pub async fn start_on(config: &Config, bound: crate::listen::Bound) -> anyhow::Result<Running> {
    let settings = &config.settings.source;
    // Before anything records a metric.
    install_metrics();
    let stats = Arc::new(SourceStats::default());
    stats.common.set_max_inflight(settings.max_inflight);
    let backend = Arc::new(Backend::open(config, stats.clone()).await?);
    let service = Arc::new(SourceService::new(
        backend.clone(),
        stats.clone(),
        settings,
    )?);
    let (kind, location) = backend.describe();
    let registration = Registration {
        service_type: ServiceType::Source,
        inputs: Vec::new(),
        outputs: vec![STELLAR_LEDGER_EVENT.into()],
        metadata: vec![
            (NETWORK_KEY.into(), backend.network().passphrase.clone()),
            ("backend".into(), kind.to_string()),
            ("location".into(), location.clone()),
        ],
    };
    let heartbeat_stats = stats.clone();
    let heartbeat = Arc::new(move || heartbeat_stats.heartbeat());
    let mut role = start_role(Role::Source, config, bound, registration, None, heartbeat).await?;
    let flight_service = FlightServer::new(service.clone(), role.handle.stop.clone()).into_grpc();
    let raw = LedgerSourceServer::new(raw_ledgers::RawLedgerService::new(
        backend.clone(),
        role.handle.stop.clone(),
    ));
    role.serve_flight(|router| router.add_service(flight_service).add_service(raw))
        .await?;
    if let Some(controller) = &role.handle.controller {
        service.follow_flow_control(controller.flow_signal());
    }
    let network = backend.network().name().to_string();
    role.handle.health.set("network", network);
    role.handle
        .health
        .set("backend", format!("{kind} {location}"));
    role.handle.health.set_serving(true);
    tracing::info!(flight_addr = %role.flight_addr, http_addr = %role.http_addr, backend = %kind, %location, "source serving");
    Ok(Running {
        flight_addr: role.flight_addr,
        http_addr: role.http_addr,
        stats,
        handle: role.handle,
    })
}

/// `stellarflow source`: serve until SIGINT/SIGTERM or a `Shutdown` RPC.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let running = start(&config).await?;
    tokio::select! {
        _ = crate::runtime::shutdown_signal() => {}
        _ = running.stopped() => tracing::info!("Shutdown requested over gRPC"),
    }
    running.shutdown().await;
    tracing::info!("source stopped");
    Ok(())
}
