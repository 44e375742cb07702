//! Process-level glue every command shares: shutdown signals and the TLS
//! crypto provider.

/// Installs rustls' ring provider as the process default. reqwest (Stellar
/// RPC, object_store) requires one; tonic brings its own. Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
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

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::FlowctlSettings;
use crate::flowctl::proto::flowctl::ServiceInfo;
use crate::flowctl::{Controller, ControllerConfig, MetricsProvider};
use crate::telemetry::Health;

/// A stop signal shared by a role's servers and loops.
#[derive(Clone)]
pub struct Stopper(Arc<watch::Sender<bool>>);

impl Default for Stopper {
    fn default() -> Self {
        Stopper(Arc::new(watch::channel(false).0))
    }
}

impl Stopper {
    /// Asks everything listening to stop.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    /// Whether a stop was asked.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is asked.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }
}

/// A serving role's moving parts, stopped together.
pub struct RoleHandle {
    /// Stops servers and loops.
    pub stopper: Stopper,
    /// `/health` state.
    pub health: Arc<Health>,
    /// The control-plane membership, when flowctl is enabled.
    pub controller: Option<Controller>,
    tasks: Vec<JoinHandle<()>>,
}

impl RoleHandle {
    /// A handle for `role`'s health record.
    pub fn new(role: &str) -> Self {
        RoleHandle {
            stopper: Stopper::default(),
            health: Health::new(role),
            controller: None,
            tasks: Vec::new(),
        }
    }

    /// Adds a task to wait for on shutdown.
    pub fn add_task(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    /// Registers with the control plane (when enabled) and starts heartbeats.
    pub async fn join_control_plane(
        &mut self,
        settings: &FlowctlSettings,
        info: ServiceInfo,
        metrics: Arc<dyn MetricsProvider>,
    ) -> anyhow::Result<()> {
        if !settings.enabled {
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
        self.stopper.stop();
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(10), task)
                .await
                .is_err()
            {
                tracing::warn!("a server did not stop within 10 s; aborting it");
                abort.abort();
            }
        }
    }
}
