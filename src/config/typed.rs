//! Typed views of the resolved configuration, one struct per section, built
//! with figment from the already validated values.

use std::time::Duration;

use figment::providers::Serialized;
use figment::value::{Dict, Value};
use figment::Figment;
use serde::{Deserialize, Deserializer};

use super::{ConfigError, Resolved};

/// All sections of the configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// flowctl client settings (every role).
    pub flowctl: FlowctlSettings,
    /// Connection pool sizes.
    pub connection_pool: PoolSettings,
    /// Monitoring interval.
    pub monitoring: MonitoringSettings,
    /// Backpressure thresholds.
    pub flow_control: FlowControlSettings,
    /// Logging.
    pub log: LogSettings,
    /// The control plane.
    pub controlplane: ControlplaneSettings,
    /// The source role.
    pub source: SourceSettings,
    /// The processor role.
    pub processor: ProcessorSettings,
    /// The sink role.
    pub sink: SinkSettings,
    /// The supervisor.
    pub pipeline: PipelineSettings,
}

/// What every serving role's section has: where it listens and its queue
/// bound. Read through [`Settings::serving`], so the shared start-up needs
/// no per-role code.
pub struct Serving<'a> {
    /// Arrow Flight `host:port`.
    pub flight_addr: &'a str,
    /// Admin HTTP `host:port`.
    pub http_addr: &'a str,
    /// Batches in flight before the role waits (flow control).
    pub max_inflight: u32,
}

impl Settings {
    /// The listening addresses and queue bound of a serving role (source,
    /// processor, sink); `None` for the others.
    pub fn serving(&self, role: super::Role) -> Option<Serving<'_>> {
        use super::Role;
        let (flight_addr, http_addr, max_inflight) = match role {
            Role::Source => (
                &self.source.flight_addr,
                &self.source.http_addr,
                self.source.max_inflight,
            ),
            Role::Processor => (
                &self.processor.flight_addr,
                &self.processor.http_addr,
                self.processor.max_inflight,
            ),
            Role::Sink => (
                &self.sink.flight_addr,
                &self.sink.http_addr,
                self.sink.max_inflight,
            ),
            Role::Controlplane | Role::Pipeline => return None,
        };
        Some(Serving {
            flight_addr,
            http_addr,
            max_inflight,
        })
    }
}

/// `[flowctl]`: how a role talks to the control plane.
#[derive(Debug, Clone, Deserialize)]
pub struct FlowctlSettings {
    /// Register, heartbeat and discover.
    pub enabled: bool,
    /// `host:port`, `:port` or `http(s)://host:port`.
    pub endpoint: String,
    /// Heartbeat period.
    #[serde(deserialize_with = "duration")]
    pub heartbeat_interval: Duration,
    /// Discovery polling period against a plain flowctl.
    #[serde(deserialize_with = "duration")]
    pub discovery_interval: Duration,
    /// Fixed service id.
    pub service_id: Option<String>,
    /// Component id override.
    pub component_id: Option<String>,
    /// Host advertised in `flight_endpoint` instead of the bind host.
    pub advertise_host: Option<String>,
    /// Bearer token.
    pub auth_token: Option<String>,
    /// CA bundle for https endpoints.
    pub ca_cert: Option<String>,
    /// Client certificate (mutual TLS).
    pub client_cert: Option<String>,
    /// Client key (mutual TLS).
    pub client_key: Option<String>,
}

/// `[connection_pool]`.
#[derive(Debug, Clone, Deserialize)]
pub struct PoolSettings {
    /// Maximum connections per endpoint.
    pub max_connections: u32,
    /// Minimum connections per endpoint.
    pub min_connections: u32,
    /// Idle connection timeout.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
}

/// `[monitoring]`.
#[derive(Debug, Clone, Deserialize)]
pub struct MonitoringSettings {
    /// Progress and monitoring period.
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
}

/// `[flow_control]`.
#[derive(Debug, Clone, Deserialize)]
pub struct FlowControlSettings {
    /// Load that activates backpressure.
    pub backpressure_threshold: f64,
    /// Load that releases it.
    pub recovery_threshold: f64,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// tracing filter.
    pub level: String,
}

/// `[controlplane]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ControlplaneSettings {
    /// gRPC listen address.
    pub grpc_addr: String,
    /// HTTP admin listen address.
    pub http_addr: String,
    /// Health expiry.
    #[serde(deserialize_with = "duration")]
    pub ttl: Duration,
    /// Expiry check period.
    #[serde(deserialize_with = "duration")]
    pub sweep_interval: Duration,
    /// Durable registry location.
    pub state_dir: Option<String>,
    /// Server certificate.
    pub tls_cert: Option<String>,
    /// Server key.
    pub tls_key: Option<String>,
    /// CA for client certificates.
    pub tls_client_ca: Option<String>,
}

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
pub struct SourceSettings {
    /// Flight listen address.
    pub flight_addr: String,
    /// HTTP listen address.
    pub http_addr: String,
    /// Data-lake URL or path.
    pub datalake: Option<String>,
    /// Stellar RPC URL.
    pub rpc_url: Option<String>,
    /// Network name or passphrase.
    pub network: Option<String>,
    /// Objects fetched ahead (0 = 2 x cores, or 16 x cores when passed on compressed).
    pub prefetch: u32,
    /// `fail` or `skip`.
    pub on_error: String,
    /// Anonymous S3 access.
    pub s3_anonymous: bool,
    /// S3 region.
    pub s3_region: Option<String>,
    /// S3-compatible endpoint.
    pub s3_endpoint: Option<String>,
    /// Live-mode polling period.
    #[serde(deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// Ledgers per object when the lake has no manifest.
    pub ledgers_per_batch: u32,
    /// Objects per partition when the lake has no manifest.
    pub batches_per_partition: u32,
    /// Ledgers in flight.
    pub max_inflight: u32,
    /// Ledgers served per second at most (0 = unlimited).
    pub max_rate: u32,
    /// Quarantine location.
    pub state_dir: String,
    /// XDR depth limit.
    pub xdr_depth: u32,
}

/// `[processor]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProcessorSettings {
    /// Flight listen address.
    pub flight_addr: String,
    /// HTTP listen address.
    pub http_addr: String,
    /// Configured source endpoint.
    pub source_endpoint: Option<String>,
    /// `ttp` or `contract-data`.
    pub kind: String,
    /// `auto`, `unified` or `derived`.
    pub mode: String,
    /// `fast` or `reference`.
    pub decoder: String,
    /// Network name or passphrase.
    pub network: Option<String>,
    /// Run VerifyEvents on every ledger.
    pub verify: bool,
    /// Event-type filter.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Asset filter.
    #[serde(default)]
    pub assets: Vec<String>,
    /// Account filter.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Contract filter.
    #[serde(default)]
    pub contracts: Vec<String>,
    /// Ledger batches extracted at once (0 = twice the cores).
    pub workers: u32,
    /// Ledgers in flight.
    pub max_inflight: u32,
    /// Lowest ledger served.
    pub start: Option<u32>,
    /// Highest ledger served.
    pub end: Option<u32>,
    /// State location.
    pub state_dir: String,
    /// XDR depth limit.
    pub xdr_depth: u32,
}

/// `[sink]`.
#[derive(Debug, Clone, Deserialize)]
pub struct SinkSettings {
    /// Flight listen address.
    pub flight_addr: String,
    /// HTTP listen address.
    pub http_addr: String,
    /// Configured processor endpoint.
    pub processor_endpoint: Option<String>,
    /// Outputs, `KIND:TARGET`.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// First ledger.
    pub start: Option<u32>,
    /// Last ledger.
    pub end: Option<u32>,
    /// Cursor location.
    pub state_dir: String,
    /// Parquet row-group rows.
    pub row_group_rows: u32,
    /// Rows per file.
    pub rotate_rows: u64,
    /// Bytes per file.
    pub rotate_bytes: u64,
    /// Live commit period.
    #[serde(deserialize_with = "duration")]
    pub flush_interval: Duration,
    /// PostgreSQL table.
    pub postgres_table: String,
    /// Per-client WebSocket queue.
    pub ws_queue: u32,
    /// Events kept for /api/events.
    pub recent_events: u32,
    /// Ledgers in flight.
    pub max_inflight: u32,
}

/// `[pipeline]`.
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineSettings {
    /// State directory.
    pub state_dir: String,
    /// Per-role log files.
    pub log_dir: Option<String>,
    /// Grace period on shutdown.
    #[serde(deserialize_with = "duration")]
    pub shutdown_timeout: Duration,
    /// Health deadline at start-up.
    #[serde(deserialize_with = "duration")]
    pub start_timeout: Duration,
    /// Restarts per window.
    pub restart_limit: u32,
    /// Restart window.
    #[serde(deserialize_with = "duration")]
    pub restart_window: Duration,
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    super::validate::parse_duration(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid duration {text:?}")))
}

/// Builds the typed settings from validated values.
pub(super) fn extract(resolved: &[Resolved]) -> Result<Settings, ConfigError> {
    let mut root = Dict::new();
    for r in resolved {
        let Some(value) = &r.value else { continue };
        let section = root
            .entry(r.setting.section().to_string())
            .or_insert_with(|| Value::from(Dict::new()));
        if let Value::Dict(_, dict) = section {
            dict.insert(r.setting.name().to_string(), value.clone());
        }
    }
    Figment::from(Serialized::defaults(root))
        .extract()
        .map_err(|e| ConfigError(format!("internal configuration error: {e}")))
}
