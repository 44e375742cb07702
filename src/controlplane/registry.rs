//! The service registry: who is registered, their health, their latest
//! metrics. Every change is broadcast to `WatchServices` subscribers and
//! membership changes are persisted when a store is configured.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use tokio::sync::broadcast;

use super::store::{Change, Store};
use crate::flowctl::proto::flowctl::{ServiceInfo, ServiceStatus, ServiceType};
use crate::flowctl::proto::stellarflow::v1::{service_event::Kind, ServiceEvent, ServiceRecord};

/// Why a registry call was refused; mapped to gRPC codes by the service.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A request missing or misusing a field.
    #[error("{0}")]
    InvalidArgument(String),
    /// An id the registry does not know.
    #[error("{0}")]
    NotFound(String),
    /// Over a limit: too many services, or a message too large.
    #[error("{0}")]
    ResourceExhausted(String),
}

/// What the registry may be made to hold, so that no client can drive the
/// control plane's memory up: a cap on services and on each one's size,
/// and removal of services that stopped heartbeating.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Services registered at once.
    pub max_services: usize,
    /// Encoded size of one registration, or of one heartbeat's metrics.
    pub max_service_bytes: usize,
    /// How long after expiring (missing the TTL) a service is removed.
    pub expired_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_services: 1000,
            max_service_bytes: 64 * 1024,
            expired_grace: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub info: ServiceInfo,
    pub healthy: bool,
    pub last_heartbeat: SystemTime,
    pub metrics: HashMap<String, f64>,
    pub registered_at: SystemTime,
}

impl Entry {
    pub fn status(&self) -> ServiceStatus {
        ServiceStatus {
            service_id: self.info.service_id.clone(),
            service_type: self.info.service_type,
            is_healthy: self.healthy,
            last_heartbeat: Some(self.last_heartbeat.into()),
            metrics: self.metrics.clone(),
            component_id: self.info.component_id.clone(),
        }
    }

    pub(crate) fn record(&self) -> ServiceRecord {
        ServiceRecord {
            info: Some(self.info.clone()),
            status: Some(self.status()),
            registered_at: Some(self.registered_at.into()),
        }
    }

    /// Σ inflight and Σ capacity this service contributes to global load.
    pub fn load(&self) -> (f64, f64) {
        let inflight = self.metrics.get("current_inflight").copied().unwrap_or(0.0);
        let max = self
            .metrics
            .get("max_inflight")
            .copied()
            .filter(|m| *m > 0.0)
            .unwrap_or(f64::from(self.info.max_inflight.max(0)));
        (inflight.max(0.0), max)
    }
}

/// The registry shared by the gRPC services, the sweeper and HTTP.
pub struct Registry {
    entries: RwLock<HashMap<String, Entry>>,
    events: broadcast::Sender<ServiceEvent>,
    ttl: Duration,
    limits: Limits,
    store: Option<Store>,
    /// Heartbeats arrived since the last sweep (metrics/last-seen changed).
    dirty: AtomicBool,
    /// When the store last recorded heartbeats.
    persisted_at: parking_lot::Mutex<SystemTime>,
    /// The address clients were told to use (`connection_info`).
    pub advertised_endpoint: String,
}

impl Registry {
    /// A registry with health expiry `ttl` and `limits`, loading `store`
    /// if given.
    pub fn new(
        ttl: Duration,
        limits: Limits,
        store: Option<Store>,
        advertised_endpoint: String,
    ) -> anyhow::Result<Arc<Self>> {
        let mut entries = HashMap::new();
        if let Some(store) = &store {
            let now = SystemTime::now();
            for record in store.load()? {
                let Some(entry) = entry_from_record(record) else {
                    continue;
                };
                let fresh = now
                    .duration_since(entry.last_heartbeat)
                    .map(|age| age < ttl)
                    .unwrap_or(true);
                let entry = Entry {
                    healthy: entry.healthy && fresh,
                    ..entry
                };
                entries.insert(entry.info.service_id.clone(), entry);
            }
            tracing::info!(services = entries.len(), path = %store.path().display(), "registry loaded");
        }
        let (events, _) = broadcast::channel(4096);
        let registry = Arc::new(Registry {
            entries: RwLock::new(entries),
            events,
            ttl,
            limits,
            store,
            dirty: AtomicBool::new(false),
            persisted_at: parking_lot::Mutex::new(SystemTime::now()),
            advertised_endpoint,
        });
        registry.update_gauges();
        Ok(registry)
    }

    /// Adds or replaces a service; returns its id (generated when empty).
    pub fn register(&self, mut info: ServiceInfo) -> Result<ServiceInfo, RegistryError> {
        let service_type = ServiceType::try_from(info.service_type)
            .ok()
            .filter(|t| *t != ServiceType::Unspecified)
            .ok_or_else(|| {
                RegistryError::InvalidArgument(format!(
                    "service_type {} is not allowed: expected SERVICE_TYPE_SOURCE, SERVICE_TYPE_PROCESSOR, SERVICE_TYPE_SINK or SERVICE_TYPE_PIPELINE",
                    info.service_type
                ))
            })?;
        if info.service_id.trim().is_empty() {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            info.service_id = format!("{}-{nanos}", service_type.as_str_name());
        }
        let size = prost::Message::encoded_len(&info);
        if size > self.limits.max_service_bytes {
            metrics::counter!("flowctl_registrations_refused_total", "reason" => "size")
                .increment(1);
            return Err(RegistryError::ResourceExhausted(format!(
                "registration of {:?} is {size} bytes, above the limit of {} (controlplane.max_service_bytes): send less metadata",
                info.service_id, self.limits.max_service_bytes
            )));
        }
        let now = SystemTime::now();
        let entry = Entry {
            info: info.clone(),
            healthy: true,
            last_heartbeat: now,
            metrics: HashMap::new(),
            registered_at: now,
        };
        let record = entry.record();
        {
            let mut entries = self.entries.write();
            let max = self.limits.max_services;
            if entries.len() >= max && !entries.contains_key(&info.service_id) {
                metrics::counter!("flowctl_registrations_refused_total", "reason" => "count")
                    .increment(1);
                return Err(RegistryError::ResourceExhausted(format!(
                    "the control plane holds {max} services, its limit (controlplane.max_services): deregister some, wait for expired ones to be removed, or raise the limit"
                )));
            }
            entries.insert(info.service_id.clone(), entry);
        }
        metrics::counter!("flowctl_registrations_total").increment(1);
        self.persist(vec![Change::Put(Box::new(record.clone()))]);
        self.publish(Kind::Registered, record);
        self.update_gauges();
        Ok(info)
    }

    /// Records a heartbeat: replaces metrics, stamps server time, marks
    /// healthy.
    pub fn heartbeat(
        &self,
        service_id: &str,
        metrics: HashMap<String, f64>,
    ) -> Result<(), RegistryError> {
        if service_id.is_empty() {
            return Err(RegistryError::InvalidArgument(
                "heartbeat without a service_id".into(),
            ));
        }
        // Each entry of the map is encoded as its key, a double and three
        // bytes of framing.
        let size: usize = metrics.keys().map(|k| k.len() + 12).sum();
        if size > self.limits.max_service_bytes {
            return Err(RegistryError::ResourceExhausted(format!(
                "heartbeat of {service_id:?} carries {size} bytes of metrics, above the limit of {} (controlplane.max_service_bytes)",
                self.limits.max_service_bytes
            )));
        }
        let revived = {
            let mut entries = self.entries.write();
            let entry = entries.get_mut(service_id).ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "service {service_id:?} is not registered; register first"
                ))
            })?;
            entry.metrics = metrics;
            entry.last_heartbeat = SystemTime::now();
            let revived = !entry.healthy;
            entry.healthy = true;
            revived.then(|| entry.record())
        };
        metrics::counter!("flowctl_heartbeats_received_total").increment(1);
        self.dirty.store(true, Ordering::Relaxed);
        if let Some(record) = revived {
            self.publish(Kind::HealthChanged, record);
            self.update_gauges();
        }
        Ok(())
    }

    /// Removes a service.
    pub fn deregister(&self, service_id: &str) -> Result<(), RegistryError> {
        let removed = self.entries.write().remove(service_id).ok_or_else(|| {
            RegistryError::NotFound(format!("service {service_id:?} is not registered"))
        })?;
        self.persist(vec![Change::Delete(service_id.to_string())]);
        let mut record = removed.record();
        if let Some(status) = record.status.as_mut() {
            status.is_healthy = false;
        }
        self.publish(Kind::Deregistered, record);
        self.update_gauges();
        Ok(())
    }

    /// The status of one service.
    pub fn status(&self, service_id: &str) -> Result<ServiceStatus, RegistryError> {
        if service_id.is_empty() {
            return Err(RegistryError::InvalidArgument(
                "GetServiceStatus needs a service_id".into(),
            ));
        }
        self.entries
            .read()
            .get(service_id)
            .map(Entry::status)
            .ok_or_else(|| {
                RegistryError::NotFound(format!("service {service_id:?} is not registered"))
            })
    }

    /// Every service, sorted by id.
    pub fn records(&self) -> Vec<ServiceRecord> {
        let mut records: Vec<ServiceRecord> =
            self.entries.read().values().map(Entry::record).collect();
        records.sort_by(|a, b| service_id(a).cmp(service_id(b)));
        records
    }

    /// Every service's status, sorted by id.
    pub(crate) fn statuses(&self) -> Vec<ServiceStatus> {
        self.records()
            .into_iter()
            .filter_map(|r| r.status)
            .collect()
    }

    pub(super) fn entries(&self) -> Vec<Entry> {
        self.entries.read().values().cloned().collect()
    }

    /// Subscribes to registry changes.
    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.events.subscribe()
    }

    /// The health expiry.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Marks services without a heartbeat for `ttl` unhealthy, removes
    /// those silent for `ttl` + `expired_grace`, and persists heartbeat
    /// times. Returns how many changed.
    pub fn sweep(&self) -> usize {
        let now = SystemTime::now();
        let age = |e: &Entry| now.duration_since(e.last_heartbeat).unwrap_or_default();
        let removal = self.ttl + self.limits.expired_grace;
        let (expired, removed, heartbeats) = {
            let mut entries = self.entries.write();
            let removed: Vec<Entry> = {
                let ids: Vec<String> = entries
                    .values()
                    .filter(|e| age(e) >= removal)
                    .map(|e| e.info.service_id.clone())
                    .collect();
                ids.iter().filter_map(|id| entries.remove(id)).collect()
            };
            let expired: Vec<ServiceRecord> = entries
                .values_mut()
                .filter(|e| e.healthy && age(e) >= self.ttl)
                .map(|e| {
                    e.healthy = false;
                    e.record()
                })
                .collect();
            // Heartbeats since the last sweep, so the store keeps the
            // latest metrics and last-seen times.
            let heartbeats: Vec<ServiceRecord> = if self.dirty.swap(false, Ordering::Relaxed) {
                let since = *self.persisted_at.lock();
                entries
                    .values()
                    .filter(|e| e.healthy && e.last_heartbeat >= since)
                    .map(Entry::record)
                    .collect()
            } else {
                Vec::new()
            };
            (expired, removed, heartbeats)
        };
        *self.persisted_at.lock() = now;
        let changed = expired.len() + removed.len();
        let mut changes = Vec::new();
        for record in expired {
            tracing::warn!(service_id = %service_id(&record), ttl = ?self.ttl, "no heartbeat within the TTL; marked unhealthy");
            changes.push(Change::Put(Box::new(record.clone())));
            self.publish(Kind::HealthChanged, record);
        }
        for entry in removed {
            let mut record = entry.record();
            tracing::warn!(service_id = %entry.info.service_id, silent = ?age(&entry), "no heartbeat for the TTL and the grace period; removed");
            metrics::counter!("flowctl_services_removed_total").increment(1);
            if let Some(status) = record.status.as_mut() {
                status.is_healthy = false;
            }
            changes.push(Change::Delete(entry.info.service_id.clone()));
            self.publish(Kind::Deregistered, record);
        }
        changes.extend(heartbeats.into_iter().map(|r| Change::Put(Box::new(r))));
        self.persist(changes);
        if changed > 0 {
            self.update_gauges();
        }
        changed
    }

    fn publish(&self, kind: Kind, record: ServiceRecord) {
        let event = ServiceEvent {
            kind: kind as i32,
            service: Some(record),
            at: Some(SystemTime::now().into()),
        };
        // No subscribers is fine.
        let _ = self.events.send(event);
    }

    /// Records `changes` in the store, if any, and folds its log into a
    /// snapshot when the log has grown large.
    fn persist(&self, changes: Vec<Change>) {
        let Some(store) = &self.store else {
            return;
        };
        let result = store.append(&changes).and_then(|()| {
            let services = self.entries.read().len();
            store.compact_if_large(services, || self.records())
        });
        if let Err(e) = result {
            tracing::error!(error = %e, path = %store.path().display(), "cannot persist the registry");
            metrics::counter!("flowctl_persist_errors_total").increment(1);
        }
    }

    fn update_gauges(&self) {
        let entries = self.entries.read();
        let healthy = entries.values().filter(|e| e.healthy).count();
        metrics::gauge!("flowctl_registered_services").set(entries.len() as f64);
        metrics::gauge!("flowctl_healthy_services").set(healthy as f64);
    }
}

fn service_id(record: &ServiceRecord) -> &str {
    record
        .info
        .as_ref()
        .map(|i| i.service_id.as_str())
        .unwrap_or("")
}

fn entry_from_record(record: ServiceRecord) -> Option<Entry> {
    let info = record.info?;
    let status = record.status.unwrap_or_default();
    let time = |t: Option<prost_types::Timestamp>| {
        t.and_then(|t| SystemTime::try_from(t).ok())
            .unwrap_or(UNIX_EPOCH)
    };
    Some(Entry {
        healthy: status.is_healthy,
        last_heartbeat: time(status.last_heartbeat),
        metrics: status.metrics,
        registered_at: time(record.registered_at),
        info,
    })
}
