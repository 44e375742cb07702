//! Process-level glue every command shares: shutdown signals, the TLS
//! crypto provider, and the start-up and shutdown of a serving role.

/// Installs rustls' ring provider as the process default. reqwest (Stellar
/// RPC, object_store) requires one; tonic brings its own. Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => tracing::info!("SIGINT received; shutting down"),
                    _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Role, Settings};
use crate::flowctl::proto::flowctl::{ServiceInfo, ServiceType};
use crate::flowctl::{Advertised, Controller, ControllerConfig, MetricsProvider};
use crate::listen::Bound;
use crate::security::{protect_http, Access, RequireToken};
use crate::telemetry::{admin_router, install_metrics, serve_http, Health};

/// A serving role's moving parts, stopped together.
pub(crate) struct RoleHandle {
    /// Cancelled when the role stops: servers drain, loops and open streams
    /// end.
    pub stop: CancellationToken,
    /// `/health` state.
    pub health: Arc<Health>,
    /// The control-plane membership, when flowctl is enabled.
    pub controller: Option<Controller>,
    /// What the role's servers require and its clients present.
    pub access: Access,
    tasks: TaskTracker,
}

impl RoleHandle {
    /// A handle for `role`'s health record.
    pub fn new(role: &str) -> Self {
        RoleHandle {
            stop: CancellationToken::new(),
            health: Health::new(role),
            controller: None,
            access: Access::default(),
            tasks: TaskTracker::new(),
        }
    }

    /// Registers with the control plane (when enabled) and starts heartbeats.
    pub(crate) async fn join_control_plane(
        &mut self,
        settings: &Settings,
        info: ServiceInfo,
        metrics: Arc<dyn MetricsProvider>,
    ) -> anyhow::Result<()> {
        if !settings.flowctl.enabled {
            return Ok(());
        }
        let controller =
            Controller::new(ControllerConfig::from_settings(settings)?, info, metrics)?;
        controller.start().await;
        self.health.set("service_id", controller.service_id());
        self.controller = Some(controller);
        Ok(())
    }

    /// Stops: `/health` turns 503, the control plane is told (deregister),
    /// servers drain, tasks end.
    pub async fn shutdown(self) {
        self.health.set_serving(false);
        if let Some(controller) = &self.controller {
            controller.stop().await;
        }
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(std::time::Duration::from_secs(10), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("a server did not stop within 10 s; leaving it behind");
        }
    }
}

/// What a role registers with the control plane as. The shared start-up
/// adds the endpoints it bound, its queue bound and the component id.
pub(crate) struct Registration {
    /// flowctl's service type.
    pub service_type: ServiceType,
    /// Event types consumed.
    pub inputs: Vec<String>,
    /// Event types produced.
    pub outputs: Vec<String>,
    /// Role-specific metadata (the Flight endpoint is added).
    pub metadata: Vec<(String, String)>,
}

/// A role past the shared start-up: HTTP served, control plane joined, and
/// the Flight port bound but not yet served (the role builds its services
/// with the handle first, then calls [`Started::serve_flight`]).
pub(crate) struct Started {
    /// The role's stop signal, health and control-plane membership.
    pub handle: RoleHandle,
    flight: Option<TcpListener>,
    /// The Flight address actually bound.
    pub flight_addr: SocketAddr,
    /// The HTTP address actually bound.
    pub http_addr: SocketAddr,
}

/// Binds a serving role's Flight and HTTP sockets where its settings say,
/// and reports the outcome in its state dir (see [`crate::listen`]).
pub async fn bind(role: Role, config: &Config) -> anyhow::Result<Bound> {
    let serving = config
        .settings
        .serving(role)
        .ok_or_else(|| anyhow::anyhow!("{role} is not a serving role"))?;
    Ok(crate::listen::bind_role(
        serving.flight_addr,
        "Arrow Flight",
        serving.http_addr,
        Some(Path::new(serving.state_dir)),
    )
    .await?)
}

/// The start-up every serving role shares, on sockets already bound (the
/// port registered is the port served): serves `/health` and `/metrics`
/// (plus `api`, the role's own routes), and registers with the control
/// plane under the advertised endpoints.
pub(crate) async fn start_role(
    role: Role,
    config: &Config,
    bound: Bound,
    registration: Registration,
    api: Option<axum::Router>,
    heartbeat: Arc<dyn MetricsProvider>,
) -> anyhow::Result<Started> {
    let serving = config
        .settings
        .serving(role)
        .ok_or_else(|| anyhow::anyhow!("{role} is not a serving role"))?;
    let flowctl = &config.settings.flowctl;
    let mut handle = RoleHandle::new(role.component_id());
    handle.access = Access::from_settings(&config.settings)?;
    let (flight, flight_addr, http_addr) = (bound.data, bound.data_addr, bound.http_addr);
    let mut router = admin_router(handle.health.clone(), install_metrics());
    if let Some(api) = api {
        router = router.merge(api);
    }
    let router = protect_http(router, handle.access.token.as_ref());
    handle.tasks.spawn(serve_http(
        bound.http,
        router,
        handle.stop.clone().cancelled_owned(),
    ));
    let advertised = Advertised::new(flight_addr, http_addr, flowctl.advertise_host.as_deref());
    let mut metadata: std::collections::HashMap<String, String> =
        registration.metadata.into_iter().collect();
    let (key, value) = advertised.flight_entry();
    metadata.insert(key, value);
    let info = ServiceInfo {
        service_type: registration.service_type as i32,
        input_event_types: registration.inputs,
        output_event_types: registration.outputs,
        health_endpoint: advertised.health_endpoint.clone(),
        max_inflight: i32::try_from(serving.max_inflight).unwrap_or(i32::MAX),
        metadata,
        component_id: role.component_id().into(),
        ..Default::default()
    };
    handle
        .join_control_plane(&config.settings, info, heartbeat)
        .await?;
    handle.health.set("flight_addr", flight_addr.to_string());
    Ok(Started {
        handle,
        flight: Some(flight),
        flight_addr,
        http_addr,
    })
}

impl Started {
    /// Serves `services` on the bound Flight listener, beside the standard
    /// gRPC health service, until the role stops. Only the first call
    /// serves: the listener is taken.
    pub(crate) async fn serve_flight(
        &mut self,
        services: impl FnOnce(crate::flight::FlightRouter) -> crate::flight::FlightRouter,
    ) -> anyhow::Result<()> {
        let Some(listener) = self.flight.take() else {
            return Ok(());
        };
        let (reporter, health_service) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let access = &self.handle.access;
        let mut builder = crate::flight::server_builder();
        if let Some(tls) = access.server_tls.clone() {
            builder = builder.tls_config(tls).map_err(|e| {
                anyhow::anyhow!("TLS configuration of the Flight server failed: {e}")
            })?;
        }
        let token = RequireToken::new(access.token.as_ref());
        let mut builder = builder.layer(tonic::service::InterceptorLayer::new(token));
        let router = services(builder.add_service(health_service));
        let stopped = self.handle.stop.clone().cancelled_owned();
        self.handle
            .tasks
            .spawn(crate::flight::serve_flight_grpc(listener, router, stopped));
        Ok(())
    }
}
