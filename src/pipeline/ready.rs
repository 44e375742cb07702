//! Whether a child the supervisor started is ready: it has reported the
//! addresses it bound (or its bind error), answers `/health`, and, with our
//! own control plane, is registered under the port it bound. Runs as a task
//! that reports back to the supervisor's loop as an event.

use std::time::{Duration, Instant};

use super::child;
use super::state::alive;
use crate::config::{Role, Settings};
use crate::flowctl::{registry_client, FLIGHT_ENDPOINT_KEY};
use crate::listen::Listening;

/// A readiness check's answer.
pub(super) struct Readiness {
    pub role: Role,
    pub generation: u32,
    pub result: Result<Listening, NotReady>,
}

/// Why a child is not ready.
pub(super) enum NotReady {
    /// Its process ended; the exit event decides what that means.
    Exited,
    /// It cannot serve: a bind error, a timeout.
    Failed(String),
}

/// Waits for a child to bind, answer `/health` and register.
pub(super) struct ReadyCheck {
    pub role: Role,
    pub generation: u32,
    pub pid: u32,
    pub state_dir: std::path::PathBuf,
    pub timeout: Duration,
    pub started: u64,
    /// Our control plane, when the child must register with it.
    pub registry: Option<(Settings, String)>,
}

impl ReadyCheck {
    pub async fn run(self) -> Readiness {
        let result = self.check().await;
        Readiness {
            role: self.role,
            generation: self.generation,
            result,
        }
    }

    async fn check(&self) -> Result<Listening, NotReady> {
        let deadline = Instant::now() + self.timeout;
        let timeout = self.timeout;
        let alive = || alive(self.pid);
        // 1. The addresses it bound (it may have been given port 0).
        let listening = loop {
            match Listening::read(&self.state_dir).filter(|r| r.pid() == self.pid) {
                Some(report) => break report,
                None if !alive() => return Err(NotReady::Exited),
                None if Instant::now() > deadline => {
                    return Err(NotReady::Failed(format!(
                        "did not bind its ports within {timeout:?}"
                    )))
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let Listening::Bound {
            data_addr,
            http_addr,
            ..
        } = &listening
        else {
            return Ok(listening);
        };
        // 2. Healthy.
        if let Err(why) = child::wait_healthy(http_addr, timeout, alive).await {
            return Err(if alive() {
                NotReady::Failed(why)
            } else {
                NotReady::Exited
            });
        }
        // 3. Registered with our control plane, under the port it bound.
        let Some((settings, endpoint)) = &self.registry else {
            return Ok(listening);
        };
        let mut registry =
            registry_client(settings, endpoint).map_err(|e| NotReady::Failed(e.to_string()))?;
        let port = |addr: &str| addr.rsplit(':').next().map(str::to_string);
        loop {
            let records = registry
                .list_service_records(())
                .await
                .map(|reply| reply.into_inner().services)
                .unwrap_or_default();
            let registered = records.iter().any(|record| {
                let (Some(info), Some(status)) = (&record.info, &record.status) else {
                    return false;
                };
                let registered_at = record
                    .registered_at
                    .and_then(|t| std::time::SystemTime::try_from(t).ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                info.component_id == self.role.component_id()
                    && status.is_healthy
                    // The advertised host may differ from the bind host
                    // (0.0.0.0, advertise_host); the port does not.
                    && info.metadata.get(FLIGHT_ENDPOINT_KEY).and_then(|e| port(e)) == port(data_addr)
                    && registered_at + 1 >= self.started
            });
            if registered {
                return Ok(listening);
            }
            if !alive() {
                return Err(NotReady::Exited);
            }
            if Instant::now() > deadline {
                return Err(NotReady::Failed(format!(
                    "is healthy but did not register with the control plane within {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
