//! `Controller`: a role's membership in the control plane. It registers
//! (retrying with backoff, falling back to a `sim-` id while the control plane
//! is away), heartbeats the role's metrics, re-registers after any heartbeat
//! failure, follows the flow-control signal, and deregisters on stop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::Code;

use super::channel::{connect, AuthChannel, ClientTls};
use super::proto::flowctl::control_plane_client::ControlPlaneClient;
use super::proto::flowctl::{ServiceHeartbeat, ServiceInfo, ServiceType};
use super::proto::stellarflow::v1::control_plane_extensions_client::ControlPlaneExtensionsClient;
use super::proto::stellarflow::v1::DeregisterRequest;
use crate::config::Settings;
use crate::retry::Backoff;

/// Registration timeout (seed 001).
pub(crate) const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits between the first registration attempts (200 ms, then 400 ms).
const REGISTER_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));

/// Heartbeat timeout (seed 001).
pub(crate) const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// Supplies the metrics a role sends with every heartbeat.
pub trait MetricsProvider: Send + Sync + 'static {
    /// Current values, e.g. `ledgers_processed_total`, `current_inflight`.
    fn metrics(&self) -> HashMap<String, f64>;
}

impl<F> MetricsProvider for F
where
    F: Fn() -> HashMap<String, f64> + Send + Sync + 'static,
{
    fn metrics(&self) -> HashMap<String, f64> {
        self()
    }
}

/// How to reach the control plane and who to be there.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// `host:port`, `:port` or `http(s)://host:port`.
    pub endpoint: String,
    /// Heartbeat period; also the background registration retry period.
    pub heartbeat_interval: Duration,
    /// Discovery polling period against a plain flowctl.
    pub discovery_interval: Duration,
    /// Register under this id (`FLOWCTL_SERVICE_ID`).
    pub service_id: Option<String>,
    /// Component id override (`FLOWCTL_COMPONENT_ID`).
    pub component_id: Option<String>,
    /// Bearer token.
    pub auth_token: Option<String>,
    /// TLS material for `https://` endpoints.
    pub tls: Option<ClientTls>,
}

impl ControllerConfig {
    /// Builds the client configuration from the `[flowctl]` settings,
    /// falling back to the shared `[security]` ones for each part the
    /// flowctl settings leave out, and reads the PEM files they name.
    pub(crate) fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let flowctl = &settings.flowctl;
        let security = &settings.security;
        let read = |path: &str, what: &str| {
            std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {what} {path}: {e}"))
        };
        let ca = flowctl
            .ca_cert
            .as_deref()
            .map(|p| (p, "FLOWCTL_CA_CERT"))
            .or(security.tls_ca.as_deref().map(|p| (p, "security.tls_ca")));
        let identity = match (&flowctl.client_cert, &flowctl.client_key) {
            (Some(cert), Some(key)) => Some((
                read(cert, "FLOWCTL_CLIENT_CERT")?,
                read(key, "FLOWCTL_CLIENT_KEY")?,
            )),
            (None, None) => match (&security.tls_cert, &security.tls_key) {
                (Some(cert), Some(key)) => Some((
                    read(cert, "security.tls_cert")?,
                    read(key, "security.tls_key")?,
                )),
                _ => None,
            },
            _ => anyhow::bail!("FLOWCTL_CLIENT_CERT and FLOWCTL_CLIENT_KEY must be set together"),
        };
        let tls = match (ca, identity) {
            (None, None) => None,
            (ca, identity) => Some(ClientTls {
                ca_pem: ca.map(|(path, what)| read(path, what)).transpose()?,
                identity,
            }),
        };
        let auth_token = match &flowctl.auth_token {
            Some(token) => Some(token.clone()),
            None => crate::security::security_token(settings)?.map(|t| t.expose().to_string()),
        };
        Ok(ControllerConfig {
            endpoint: flowctl.endpoint.clone(),
            heartbeat_interval: flowctl.heartbeat_interval,
            discovery_interval: flowctl.discovery_interval,
            service_id: flowctl.service_id.clone(),
            component_id: flowctl.component_id.clone(),
            auth_token,
            tls,
        })
    }
}

/// The control plane's flow-control advice, as a role sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSignal {
    /// Backpressure is on.
    pub backpressure_active: bool,
    /// Fraction of full speed to run at (1.0 = unthrottled).
    pub throttle_rate: f64,
    /// Σ inflight / Σ max_inflight across healthy services.
    pub global_load: f64,
}

impl Default for FlowSignal {
    fn default() -> Self {
        FlowSignal {
            backpressure_active: false,
            throttle_rate: 1.0,
            global_load: 0.0,
        }
    }
}

/// A client of the control plane's typed registry (`stellarflow.v1`), for
/// a watcher that does not register itself: the pipeline supervisor checks
/// with it that a child has registered. TLS and token come from `settings`.
pub fn registry_client(
    settings: &Settings,
    endpoint: &str,
) -> anyhow::Result<ControlPlaneExtensionsClient<AuthChannel>> {
    let config = ControllerConfig::from_settings(settings)?;
    let channel = connect(endpoint, config.tls.as_ref(), config.auth_token.as_deref())?;
    Ok(ControlPlaneExtensionsClient::new(channel))
}

/// A role's connection to the control plane. Cheap to clone.
#[derive(Clone)]
pub struct Controller {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) config: ControllerConfig,
    info: ServiceInfo,
    pub(super) control: ControlPlaneClient<AuthChannel>,
    pub(super) ext: ControlPlaneExtensionsClient<AuthChannel>,
    service_id: RwLock<String>,
    registered: AtomicBool,
    metrics: Arc<dyn MetricsProvider>,
    flow: watch::Sender<FlowSignal>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Controller {
    /// A controller that will register `info` (its `service_id` is ignored;
    /// see `ControllerConfig::service_id`). Nothing is sent until `start`.
    pub fn new(
        config: ControllerConfig,
        mut info: ServiceInfo,
        metrics: Arc<dyn MetricsProvider>,
    ) -> anyhow::Result<Self> {
        let channel = connect(
            &config.endpoint,
            config.tls.as_ref(),
            config.auth_token.as_deref(),
        )?;
        if let Some(component) = &config.component_id {
            info.component_id = component.clone();
        }
        let (flow, _) = watch::channel(FlowSignal::default());
        Ok(Controller {
            inner: Arc::new(Inner {
                control: ControlPlaneClient::new(channel.clone()),
                ext: ControlPlaneExtensionsClient::new(channel),
                config,
                info,
                service_id: RwLock::new(String::new()),
                registered: AtomicBool::new(false),
                metrics,
                flow,
                stop: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        })
    }

    /// Registers (three quick attempts with backoff), falling back to a
    /// simulated id, then starts the heartbeat and flow-control loops.
    /// Never fails: a role keeps working without its control plane.
    pub async fn start(&self) {
        for attempt in 1..=3 {
            match self.register().await {
                Ok(()) => break,
                Err(e) if attempt == 3 => {
                    let sim = simulated_id(self.service_type());
                    tracing::warn!(
                        endpoint = %self.inner.config.endpoint,
                        service_id = %sim,
                        error = %e,
                        "control plane unreachable; running under a simulated id and retrying in the background"
                    );
                    *self.inner.service_id.write() = sim;
                }
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "registration failed; retrying");
                    tokio::time::sleep(REGISTER_BACKOFF.delay(attempt - 1)).await;
                }
            }
        }
        // Each loop is dropped at once when the controller stops, even in
        // the middle of a request to a control plane that does not answer.
        let stop = self.inner.stop.clone();
        let (heartbeat, flow) = (self.clone().heartbeat_loop(), self.clone().flow_loop());
        self.inner
            .tasks
            .spawn(stop.clone().run_until_cancelled_owned(heartbeat));
        self.inner.tasks.spawn(stop.run_until_cancelled_owned(flow));
    }

    /// Stops the loops and deregisters (where the control plane supports it).
    pub async fn stop(&self) {
        self.inner.stop.cancel();
        self.inner.tasks.close();
        let _ = tokio::time::timeout(HEARTBEAT_TIMEOUT, self.inner.tasks.wait()).await;
        if self.is_registered() {
            let request = DeregisterRequest {
                service_id: self.service_id(),
            };
            let mut ext = self.inner.ext.clone();
            match tokio::time::timeout(Duration::from_secs(2), ext.deregister(request)).await {
                Ok(Ok(_)) => tracing::info!(service_id = %self.service_id(), "deregistered"),
                Ok(Err(status)) if status.code() == Code::Unimplemented => {}
                Ok(Err(status)) => tracing::debug!(error = %status.message(), "deregister failed"),
                Err(_) => tracing::debug!("deregister timed out"),
            }
            self.inner.registered.store(false, Ordering::SeqCst);
        }
    }

    /// The current service id (real, or `sim-...` while unregistered).
    pub fn service_id(&self) -> String {
        self.inner.service_id.read().clone()
    }

    /// Whether the control plane currently knows this service.
    pub fn is_registered(&self) -> bool {
        self.inner.registered.load(Ordering::SeqCst)
    }

    /// The service type this controller registers as.
    pub fn service_type(&self) -> ServiceType {
        ServiceType::try_from(self.inner.info.service_type).unwrap_or(ServiceType::Unspecified)
    }

    /// Follows the control plane's flow-control signal.
    pub(crate) fn flow_signal(&self) -> watch::Receiver<FlowSignal> {
        self.inner.flow.subscribe()
    }

    async fn register(&self) -> anyhow::Result<()> {
        let mut info = self.inner.info.clone();
        info.service_id = match &self.inner.config.service_id {
            Some(id) => id.clone(),
            None => {
                // Keep a server-assigned id across re-registrations.
                let current = self.service_id();
                if current.starts_with("sim-") {
                    String::new()
                } else {
                    current
                }
            }
        };
        let mut control = self.inner.control.clone();
        let ack = tokio::time::timeout(REGISTER_TIMEOUT, control.register(info))
            .await
            .map_err(|_| anyhow::anyhow!("registration timed out after {REGISTER_TIMEOUT:?}"))?
            .map_err(|s| anyhow::anyhow!("registration refused: {} ({:?})", s.message(), s.code()))?
            .into_inner();
        tracing::info!(
            service_id = %ack.service_id,
            endpoint = %self.inner.config.endpoint,
            topics = ?ack.topic_names,
            "registered with the control plane"
        );
        *self.inner.service_id.write() = ack.service_id;
        self.inner.registered.store(true, Ordering::SeqCst);
        metrics::gauge!("flowctl_registered").set(1.0);
        Ok(())
    }

    async fn heartbeat(&self) -> anyhow::Result<()> {
        let heartbeat = ServiceHeartbeat {
            service_id: self.service_id(),
            timestamp: Some(prost_types::Timestamp::from(SystemTime::now())),
            metrics: self.inner.metrics.metrics(),
        };
        let mut control = self.inner.control.clone();
        tokio::time::timeout(HEARTBEAT_TIMEOUT, control.heartbeat(heartbeat))
            .await
            .map_err(|_| anyhow::anyhow!("heartbeat timed out after {HEARTBEAT_TIMEOUT:?}"))?
            .map_err(|s| anyhow::anyhow!("heartbeat refused: {} ({:?})", s.message(), s.code()))?;
        Ok(())
    }

    /// Runs until `start`'s cancellation wrapper drops it.
    async fn heartbeat_loop(self) {
        let mut ticker = tokio::time::interval(self.inner.config.heartbeat_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if self.is_registered() {
                match self.heartbeat().await {
                    Ok(()) => metrics::counter!("flowctl_heartbeats_sent_total").increment(1),
                    Err(e) => {
                        metrics::counter!("flowctl_heartbeat_errors_total").increment(1);
                        tracing::warn!(error = %e, "heartbeat failed; re-registering");
                        self.inner.registered.store(false, Ordering::SeqCst);
                        metrics::gauge!("flowctl_registered").set(0.0);
                        metrics::counter!("flowctl_reconnection_events_total").increment(1);
                        if let Err(e) = self.register().await {
                            tracing::debug!(error = %e, "re-registration failed; will retry");
                        }
                    }
                }
            } else if let Err(e) = self.register().await {
                tracing::debug!(error = %e, "background registration failed; will retry");
            }
        }
    }

    /// Runs until `start`'s cancellation wrapper drops it (or the control
    /// plane has no flow-control stream).
    async fn flow_loop(self) {
        let retry = self.inner.config.heartbeat_interval;
        loop {
            let mut ext = self.inner.ext.clone();
            match ext.watch_flow_control(()).await {
                Ok(response) => {
                    let mut stream = response.into_inner();
                    while let Ok(Some(signal)) = stream.message().await {
                        let signal = FlowSignal {
                            backpressure_active: signal.backpressure_active,
                            throttle_rate: signal.throttle_rate.clamp(0.0, 1.0),
                            global_load: signal.global_load,
                        };
                        metrics::gauge!("flowctl_throttle_rate").set(signal.throttle_rate);
                        metrics::gauge!("flowctl_backpressure_active")
                            .set(if signal.backpressure_active { 1.0 } else { 0.0 });
                        self.inner.flow.send_replace(signal);
                    }
                }
                // A plain flowctl has no flow-control stream: run unthrottled.
                Err(status) if status.code() == Code::Unimplemented => return,
                Err(_) => {}
            }
            // The control plane went away: do not stay throttled on stale advice.
            self.inner.flow.send_replace(FlowSignal::default());
            tokio::time::sleep(retry).await;
        }
    }
}

/// `sim-<SERVICE_TYPE_X>-<YYYYMMDDhhmmss>`, as seed 001 names a service
/// that could not register.
fn simulated_id(service_type: ServiceType) -> String {
    let now = chrono::Utc::now().format("%Y%m%d%H%M%S");
    format!("sim-{}-{now}", service_type.as_str_name())
}
