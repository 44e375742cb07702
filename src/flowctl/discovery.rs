//! Finding upstream services (seed 000): by event type through our
//! `ListServiceRecords` extension (which carries `flight_endpoint`), or by
//! service type through plain flowctl's `ListServices`. The chosen endpoint
//! is the discovered one, else the configured one, else the default port;
//! `UpstreamWatch` keeps it current, pushed by `WatchServices` where the
//! control plane has it and polled every `discovery_interval` where not.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Code;

use super::controller::Controller;
use super::proto::flowctl::ServiceType;
use super::FLIGHT_ENDPOINT_KEY;

/// One upstream candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// Its service id.
    pub service_id: String,
    /// Its Flight endpoint, when the registry knows it.
    pub endpoint: Option<String>,
    /// Whether it is healthy.
    pub healthy: bool,
}

/// The conventional local endpoint of a service type (8815/8816/8817).
pub fn default_endpoint(service_type: ServiceType) -> String {
    format!("127.0.0.1:{}", service_type.default_port().unwrap_or(8815))
}

impl Controller {
    /// Services producing `event_type`, healthy ones first.
    pub async fn discover(&self, event_type: &str) -> anyhow::Result<Vec<Upstream>> {
        let mut ext = self.inner.ext.clone();
        let mut found = match ext.list_service_records(()).await {
            Ok(response) => response
                .into_inner()
                .services
                .into_iter()
                .filter_map(|record| {
                    let info = record.info?;
                    if !info.output_event_types.iter().any(|t| t == event_type) {
                        return None;
                    }
                    Some(Upstream {
                        endpoint: info.metadata.get(FLIGHT_ENDPOINT_KEY).cloned(),
                        healthy: record.status.is_some_and(|s| s.is_healthy),
                        service_id: info.service_id,
                    })
                })
                .collect::<Vec<_>>(),
            Err(status) if status.code() == Code::Unimplemented => {
                // A plain flowctl: ServiceStatus has no event types or
                // metadata, so match by the pipeline's type convention.
                let wanted = ServiceType::producing(event_type) as i32;
                let mut control = self.inner.control.clone();
                control
                    .list_services(())
                    .await
                    .map_err(|s| anyhow::anyhow!("ListServices failed: {}", s.message()))?
                    .into_inner()
                    .services
                    .into_iter()
                    .filter(|s| s.service_type == wanted)
                    .map(|s| Upstream {
                        service_id: s.service_id,
                        endpoint: None,
                        healthy: s.is_healthy,
                    })
                    .collect()
            }
            Err(status) => anyhow::bail!("service discovery failed: {}", status.message()),
        };
        found.sort_by_key(|u| (!u.healthy, u.service_id.clone()));
        Ok(found)
    }
}

/// The endpoint to use: a healthy discovered one, else the configured one,
/// else the default.
pub fn choose_endpoint(found: &[Upstream], configured: Option<&str>, default: &str) -> String {
    found
        .iter()
        .filter(|u| u.healthy)
        .find_map(|u| u.endpoint.clone())
        .or_else(|| configured.map(String::from))
        .unwrap_or_else(|| default.to_string())
}

/// Keeps the upstream endpoint current in the background.
pub struct UpstreamWatch {
    rx: watch::Receiver<String>,
    task: Option<JoinHandle<()>>,
}

/// How long a starting role waits for its first discovery answer before it
/// falls back to the configured or default endpoint (and keeps following).
pub(crate) const FIRST_DISCOVERY: Duration = Duration::from_secs(2);

impl UpstreamWatch {
    /// Starts following producers of `event_type`. Without a controller the
    /// endpoint is fixed: the configured one, else the default. With one,
    /// the first discovery is awaited (up to [`FIRST_DISCOVERY`]), so that a
    /// role does not serve its first request against the default endpoint
    /// while the control plane already knows the real one.
    pub async fn spawn(
        controller: Option<Controller>,
        event_type: &'static str,
        configured: Option<String>,
    ) -> Self {
        let default = default_endpoint(ServiceType::producing(event_type));
        let mut initial = configured.clone().unwrap_or_else(|| default.clone());
        if let Some(controller) = &controller {
            if let Ok(Ok(found)) =
                tokio::time::timeout(FIRST_DISCOVERY, controller.discover(event_type)).await
            {
                initial = choose_endpoint(&found, configured.as_deref(), &default);
            }
        }
        let (tx, rx) = watch::channel(initial);
        let task = controller.map(|controller| {
            tokio::spawn(follow(controller, event_type, configured, default, tx))
        });
        UpstreamWatch { rx, task }
    }

    /// The endpoint to connect to now.
    pub fn current(&self) -> String {
        self.rx.borrow().clone()
    }

    /// A receiver that changes whenever the endpoint does.
    pub fn subscribe(&self) -> watch::Receiver<String> {
        self.rx.clone()
    }
}

impl Drop for UpstreamWatch {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn follow(
    controller: Controller,
    event_type: &'static str,
    configured: Option<String>,
    default: String,
    tx: watch::Sender<String>,
) {
    let poll = controller.inner.config.discovery_interval;
    let retry = poll.min(Duration::from_secs(2));
    let publish = |found: &[Upstream]| {
        let endpoint = choose_endpoint(found, configured.as_deref(), &default);
        tx.send_if_modified(|current| {
            if *current != endpoint {
                tracing::info!(event_type, from = %current, to = %endpoint, "upstream endpoint changed");
                metrics::counter!("flowctl_reconnection_events_total").increment(1);
                *current = endpoint;
                true
            } else {
                false
            }
        });
    };
    let resolve = || async {
        let started = std::time::Instant::now();
        let found = controller.discover(event_type).await;
        metrics::histogram!("flowctl_service_discovery_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        found
    };
    loop {
        if let Ok(found) = resolve().await {
            publish(&found);
        }
        let mut ext = controller.inner.ext.clone();
        match ext
            .watch_services(super::proto::stellarflow::v1::WatchServicesRequest {})
            .await
        {
            Ok(response) => {
                let mut stream = response.into_inner();
                while let Ok(Some(_event)) = stream.message().await {
                    if let Ok(found) = resolve().await {
                        publish(&found);
                    }
                }
                tokio::time::sleep(retry).await;
            }
            Err(status) if status.code() == Code::Unimplemented => loop {
                tokio::time::sleep(poll).await;
                if let Ok(found) = resolve().await {
                    publish(&found);
                }
            },
            Err(_) => tokio::time::sleep(retry).await,
        }
    }
}
