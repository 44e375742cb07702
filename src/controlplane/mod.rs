//! The flowctl-compatible control plane: a registry of services with health
//! expiry, discovery, topology, flow control, optional durable state, TLS and
//! bearer-token auth, served over gRPC with an HTTP admin surface.

mod flow;
mod http;
mod registry;
mod service;
mod store;
mod view;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::InterceptorLayer;
use tonic::transport::{Server, ServerTlsConfig};

use crate::config::{Config, Settings};
use crate::flowctl::proto::flowctl::control_plane_server::ControlPlaneServer;
use crate::flowctl::proto::stellarflow::v1::control_plane_extensions_server::ControlPlaneExtensionsServer;
use crate::security::{protect_http, server_tls, RequireToken, Token};
use crate::telemetry::{admin_router, install_metrics, serve_http, Health};

pub use flow::FlowControl;
pub use registry::{Limits, Registry};
pub use service::ControlPlaneService;

/// A control plane serving in this process.
pub struct Running {
    /// The bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// The bound HTTP admin address.
    pub http_addr: SocketAddr,
    /// The registry, for in-process inspection.
    pub registry: Arc<Registry>,
    stop: CancellationToken,
    tasks: TaskTracker,
    health: Arc<Health>,
}

impl Running {
    /// Stops serving and waits for the servers to finish.
    pub async fn shutdown(self) {
        self.health.set_serving(false);
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Binds and starts the control plane described by `config`.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let settings = &config.settings.controlplane;
    let bound = crate::listen::bind_role(
        &settings.grpc_addr,
        "gRPC",
        &settings.http_addr,
        settings.state_dir.as_deref().map(Path::new),
    )
    .await?;
    start_on(config, bound).await
}

/// Starts on sockets the caller bound (gRPC as `data`).
pub async fn start_on(config: &Config, bound: crate::listen::Bound) -> anyhow::Result<Running> {
    let settings = &config.settings.controlplane;
    let metrics = install_metrics();
    let (token, tls) = access(&config.settings)?;
    let store = settings
        .state_dir
        .as_deref()
        .map(|dir| store::Store::open(Path::new(dir)))
        .transpose()?;

    let (listener, grpc_addr, http_addr) = (bound.data, bound.data_addr, bound.http_addr);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let limits = Limits {
        max_services: settings.max_services as usize,
        max_service_bytes: settings.max_service_bytes as usize,
        expired_grace: settings.expired_grace,
    };
    let registry = Registry::new(
        settings.ttl,
        limits,
        store,
        format!("{scheme}://{grpc_addr}"),
    )?;
    let flow_settings = &config.settings.flow_control;
    let flow = FlowControl::new(
        flow_settings.backpressure_threshold,
        flow_settings.recovery_threshold,
    );
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let service = ControlPlaneService::new(registry.clone(), flow.clone(), stop.clone());
    let stopped = || stop.clone().cancelled_owned();

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<ControlPlaneServer<ControlPlaneService>>()
        .await;
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;

    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| anyhow::anyhow!("TLS configuration failed: {e}"))?;
    }
    let auth = RequireToken::new(token.as_ref());
    // Room for a registration at the limit, which the registry refuses
    // with a clearer message; anything far larger is cut off undecoded.
    let max_message = (2 * limits.max_service_bytes).max(1 << 20);
    let router = builder
        .layer(InterceptorLayer::new(auth))
        .add_service(health_service)
        .add_service(
            ControlPlaneServer::new(service.clone()).max_decoding_message_size(max_message),
        )
        .add_service(
            ControlPlaneExtensionsServer::new(service).max_decoding_message_size(max_message),
        );
    let grpc_shutdown = stopped();
    tasks.spawn(async move {
        if let Err(e) = router
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), grpc_shutdown)
            .await
        {
            tracing::error!(error = %e, "gRPC server stopped");
        }
    });

    let health = Health::new("controlplane");
    let http = admin_router(health.clone(), metrics)
        .merge(http::api_router(registry.clone(), flow.clone()));
    let http = protect_http(http, token.as_ref());
    tasks.spawn(serve_http(bound.http, http, stopped()));
    tasks.spawn(sweep_loop(
        registry.clone(),
        flow,
        settings.sweep_interval,
        stopped(),
    ));
    health.set("grpc_addr", grpc_addr.to_string());
    health.set_serving(true);
    tracing::info!(%grpc_addr, %http_addr, ttl = ?settings.ttl, "control plane serving");
    Ok(Running {
        grpc_addr,
        http_addr,
        registry,
        stop,
        tasks,
        health,
    })
}

/// The token the control plane requires and its TLS: its own settings
/// (`FLOWCTL_AUTH_TOKEN`, `--tls-cert`) when given, the shared `[security]`
/// ones otherwise, so one `STELLARFLOW_AUTH_TOKEN` guards a whole deployment.
fn access(settings: &Settings) -> anyhow::Result<(Option<Token>, Option<ServerTlsConfig>)> {
    let token = match &settings.flowctl.auth_token {
        Some(token) => Some(Token::new(token)),
        None => crate::security::security_token(settings)?,
    };
    let cp = &settings.controlplane;
    let security = &settings.security;
    let tls = match (&cp.tls_cert, &cp.tls_key) {
        (Some(cert), Some(key)) => Some(server_tls(cert, key, cp.tls_client_ca.as_deref())?),
        _ => match (&security.tls_cert, &security.tls_key) {
            (Some(cert), Some(key)) => {
                Some(server_tls(cert, key, security.tls_client_ca.as_deref())?)
            }
            _ => None,
        },
    };
    Ok((token, tls))
}

/// Marks expired services unhealthy every `sweep_interval` and re-evaluates
/// flow control every 100 ms (or faster with a faster sweep).
async fn sweep_loop(
    registry: Arc<Registry>,
    flow: Arc<FlowControl>,
    sweep_interval: Duration,
    stopped: impl std::future::Future<Output = ()>,
) {
    let flow_period = sweep_interval.min(Duration::from_millis(100));
    let mut sweep = tokio::time::interval(sweep_interval);
    let mut evaluate = tokio::time::interval(flow_period);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = sweep.tick() => { registry.sweep(); }
            _ = evaluate.tick() => flow.evaluate(&registry.entries()),
            _ = &mut stopped => return,
        }
    }
}

/// `stellarflow controlplane`: serve until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let running = start(&config).await?;
    crate::runtime::shutdown_signal().await;
    running.shutdown().await;
    tracing::info!("control plane stopped");
    Ok(())
}
