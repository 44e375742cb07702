//! The table of every setting stellarflow knows: its key, environment name,
//! kind, default and help. Env names, validation, `config show` and typed
//! extraction are all driven from this one table so they cannot drift apart.

use super::Role;

/// What values a setting accepts; validation and normalisation follow from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A listening or connecting address: `host:port`.
    Addr,
    /// A control-plane endpoint: `host:port`, `:port` or `http(s)://host:port`.
    Endpoint,
    /// A duration such as `500ms`, `10s`, `5m`, `1h`.
    Duration,
    /// An integer within an inclusive range.
    Int {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A ledger sequence number (u32).
    Ledger,
    /// A floating point number within an inclusive range.
    Float {
        /// Smallest allowed.
        min: f64,
        /// Largest allowed.
        max: f64,
    },
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Free text (paths, URLs, ids); validated where it is used.
    Text,
    /// Free text that must not be printed in full.
    Secret,
    /// A list of words; from env or flags, comma separated.
    List,
}

impl Kind {
    /// Describes what the kind accepts, for error messages.
    pub fn allowed(&self) -> String {
        match self {
            Kind::Bool => "true or false".into(),
            Kind::Addr => "host:port, e.g. 127.0.0.1:8080".into(),
            Kind::Endpoint => "host:port, :port or http://host:port".into(),
            Kind::Duration => "a duration such as 500ms, 10s, 5m or 1h".into(),
            Kind::Int { min, max } => format!("an integer from {min} to {max}"),
            Kind::Ledger => "a ledger sequence number (0 to 4294967295)".into(),
            Kind::Float { min, max } => format!("a number from {min} to {max}"),
            Kind::Enum(words) => format!("one of {}", words.join(", ")),
            Kind::Text | Kind::Secret => "text".into(),
            Kind::List => "a comma-separated list".into(),
        }
    }
}

/// One configurable value.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Dotted key as written in config files: `section.name`.
    pub key: &'static str,
    /// Global environment variable, if the seeds define one.
    pub env: Option<&'static str>,
    /// Accepted values.
    pub kind: Kind,
    /// Built-in default; `None` means unset.
    pub default: Option<&'static str>,
    /// One line for `config show` and the README.
    pub help: &'static str,
}

impl Setting {
    /// The section part of the key (`flowctl` in `flowctl.endpoint`).
    pub fn section(&self) -> &'static str {
        self.key.split('.').next().unwrap_or(self.key)
    }

    /// The name part of the key (`endpoint` in `flowctl.endpoint`).
    pub fn name(&self) -> &'static str {
        self.key.split_once('.').map(|(_, n)| n).unwrap_or(self.key)
    }

    /// Whether the setting is shared by all roles (overridable per component).
    pub fn is_global(&self) -> bool {
        GLOBAL_SECTIONS.contains(&self.section())
    }

    /// Whether `config show --role` lists this setting for `role`.
    pub fn applies_to(&self, role: Role) -> bool {
        self.is_global() || role == Role::Pipeline || self.section() == role.section()
    }

    /// The component-specific environment name as `role` reads it:
    /// `<PREFIX>_<ENV>` for global settings that have an env name (only the
    /// three data roles override globals), `<PREFIX>_<NAME>` for the role's
    /// own settings.
    pub fn component_env(&self, role: Role) -> Option<String> {
        let prefix = role.env_prefix();
        if self.is_global() {
            match role {
                Role::Source | Role::Processor | Role::Sink => {
                    self.env.map(|env| format!("{prefix}_{env}"))
                }
                Role::Controlplane | Role::Pipeline => None,
            }
        } else if self.section() == role.section() {
            Some(format!("{prefix}_{}", self.name().to_ascii_uppercase()))
        } else {
            None
        }
    }
}

/// Sections shared by every role.
pub const GLOBAL_SECTIONS: &[&str] = &[
    "flowctl",
    "connection_pool",
    "monitoring",
    "flow_control",
    "log",
];

const fn s(
    key: &'static str,
    env: Option<&'static str>,
    kind: Kind,
    default: Option<&'static str>,
    help: &'static str,
) -> Setting {
    Setting {
        key,
        env,
        kind,
        default,
        help,
    }
}

const DEPTH: Kind = Kind::Int { min: 1, max: 4096 };

/// Every setting, grouped by section.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    // --- flowctl client (every role) ---
    s("flowctl.enabled", Some("ENABLE_FLOWCTL"), Kind::Bool, Some("false"),
      "register with a control plane, heartbeat and discover peers"),
    s("flowctl.endpoint", Some("FLOWCTL_ENDPOINT"), Kind::Endpoint, Some("127.0.0.1:8080"),
      "control-plane gRPC endpoint"),
    s("flowctl.heartbeat_interval", Some("FLOWCTL_HEARTBEAT_INTERVAL"), Kind::Duration, Some("10s"),
      "how often a role sends its heartbeat and metrics"),
    s("flowctl.discovery_interval", Some("FLOWCTL_DISCOVERY_INTERVAL"), Kind::Duration, Some("30s"),
      "polling interval for discovery against a control plane without WatchServices"),
    s("flowctl.service_id", Some("FLOWCTL_SERVICE_ID"), Kind::Text, None,
      "register under this service id instead of a generated one"),
    s("flowctl.component_id", Some("FLOWCTL_COMPONENT_ID"), Kind::Text, None,
      "component id reported at registration (defaults to the role's component id)"),
    s("flowctl.advertise_host", Some("FLOWCTL_ADVERTISE_HOST"), Kind::Text, None,
      "host other roles use to reach this one (default: the bind host, or this machine's hostname when bound to 0.0.0.0)"),
    s("flowctl.auth_token", Some("FLOWCTL_AUTH_TOKEN"), Kind::Secret, None,
      "bearer token: required by the control plane, sent by clients"),
    s("flowctl.ca_cert", Some("FLOWCTL_CA_CERT"), Kind::Text, None,
      "PEM CA bundle clients use to verify an https:// control plane"),
    s("flowctl.client_cert", Some("FLOWCTL_CLIENT_CERT"), Kind::Text, None,
      "PEM client certificate for mutual TLS"),
    s("flowctl.client_key", Some("FLOWCTL_CLIENT_KEY"), Kind::Text, None,
      "PEM client key for mutual TLS"),
    s("connection_pool.max_connections", Some("CONNECTION_POOL_MAX_CONNECTIONS"),
      Kind::Int { min: 1, max: 50 }, Some("10"),
      "maximum connections per endpoint (PostgreSQL sink, upstream clients)"),
    s("connection_pool.min_connections", Some("CONNECTION_POOL_MIN_CONNECTIONS"),
      Kind::Int { min: 1, max: 10 }, Some("2"),
      "connections kept open per endpoint"),
    s("connection_pool.idle_timeout", Some("CONNECTION_POOL_IDLE_TIMEOUT"), Kind::Duration, Some("5m"),
      "idle connections are closed after this long"),
    s("monitoring.interval", Some("MONITORING_INTERVAL"), Kind::Duration, Some("5s"),
      "interval of progress log lines and pipeline monitoring"),
    s("flow_control.backpressure_threshold", Some("FLOW_CONTROL_BACKPRESSURE_THRESHOLD"),
      Kind::Float { min: 0.0, max: 1.0 }, Some("0.8"),
      "global load at which backpressure turns on"),
    s("flow_control.recovery_threshold", Some("FLOW_CONTROL_RECOVERY_THRESHOLD"),
      Kind::Float { min: 0.0, max: 1.0 }, Some("0.6"),
      "global load below which backpressure turns off (must be below the backpressure threshold)"),
    s("log.format", Some("LOG_FORMAT"), Kind::Enum(&["text", "json"]), Some("text"),
      "log line format"),
    s("log.level", Some("LOG_LEVEL"), Kind::Text, Some("info"),
      "log filter (error, warn, info, debug, trace or a tracing filter)"),
    // --- control plane ---
    s("controlplane.grpc_addr", None, Kind::Addr, Some("127.0.0.1:8080"),
      "gRPC listen address (flowctl.ControlPlane, stellarflow.v1, grpc.health.v1)"),
    s("controlplane.http_addr", None, Kind::Addr, Some("127.0.0.1:8081"),
      "HTTP admin listen address (/health, /metrics, /api/*)"),
    s("controlplane.ttl", None, Kind::Duration, Some("30s"),
      "a service without a heartbeat for this long is unhealthy"),
    s("controlplane.sweep_interval", None, Kind::Duration, Some("10s"),
      "how often expiry is checked"),
    s("controlplane.state_dir", None, Kind::Text, None,
      "keep the registry here so a restarted control plane remembers services"),
    s("controlplane.tls_cert", None, Kind::Text, None, "PEM server certificate (enables TLS)"),
    s("controlplane.tls_key", None, Kind::Text, None, "PEM server key"),
    s("controlplane.tls_client_ca", None, Kind::Text, None,
      "PEM CA for client certificates (enables mutual TLS)"),
    // --- source ---
    s("source.flight_addr", None, Kind::Addr, Some("127.0.0.1:8815"), "Arrow Flight listen address"),
    s("source.http_addr", None, Kind::Addr, Some("127.0.0.1:8088"), "HTTP listen address (/health, /metrics)"),
    s("source.datalake", None, Kind::Text, None,
      "data lake: a path, file://, s3://bucket/prefix or gs://bucket/prefix"),
    s("source.rpc_url", None, Kind::Text, None, "Stellar RPC URL (instead of a data lake)"),
    s("source.network", None, Kind::Text, None,
      "pubnet, testnet, futurenet, standalone or a passphrase (checked against the lake)"),
    s("source.prefetch", None, Kind::Int { min: 0, max: 512 }, Some("0"),
      "objects fetched ahead in parallel (0 = 2 x cores, or 16 x cores when passed on compressed)"),
    s("source.on_error", None, Kind::Enum(&["fail", "skip"]), Some("fail"),
      "on a bad ledger: fail the stream, or skip it and record it in quarantine.jsonl"),
    s("source.s3_anonymous", None, Kind::Bool, Some("false"), "read a public S3 bucket without credentials"),
    s("source.s3_region", None, Kind::Text, None, "S3 region (default from AWS_REGION, else us-east-1)"),
    s("source.s3_endpoint", None, Kind::Text, None, "S3-compatible endpoint URL"),
    s("source.poll_interval", None, Kind::Duration, Some("1s"), "live mode: wait between looks for the next ledger"),
    s("source.ledgers_per_batch", None, Kind::Int { min: 1, max: 1_000_000 }, Some("1"),
      "lakes without .config.json: ledgers per object"),
    s("source.batches_per_partition", None, Kind::Int { min: 1, max: 10_000_000 }, Some("64000"),
      "lakes without .config.json: objects per partition"),
    s("source.max_rate", None, Kind::Int { min: 0, max: 1_000_000 }, Some("0"),
      "serve at most this many ledgers per second (0 = as fast as possible; replays, demos)"),
    s("source.max_inflight", None, Kind::Int { min: 1, max: 100_000 }, Some("64"),
      "ledgers in flight before the source waits (reported for flow control)"),
    s("source.state_dir", None, Kind::Text, Some(".stellarflow/source"), "quarantine file location"),
    s("source.xdr_depth", None, DEPTH, Some("500"), "XDR decoding depth limit"),
    // --- processor ---
    s("processor.flight_addr", None, Kind::Addr, Some("127.0.0.1:8816"), "Arrow Flight listen address"),
    s("processor.http_addr", None, Kind::Addr, Some("127.0.0.1:8089"), "HTTP listen address (/health, /metrics)"),
    s("processor.source_endpoint", None, Kind::Addr, None,
      "source Flight address when discovery finds none (then 127.0.0.1:8815)"),
    s("processor.kind", None, Kind::Enum(&["ttp", "contract-data"]), Some("ttp"),
      "what to extract: token transfers or Soroban contract-data changes"),
    s("processor.mode", None, Kind::Enum(&["auto", "unified", "derived"]), Some("auto"),
      "TTP mode: CAP-67 events, derived from operations, or unified when every tx has V4 meta"),
    s("processor.decoder", None, Kind::Enum(&["fast", "reference"]), Some("fast"),
      "XDR decoder: read in place and decode only what the rules use, or decode fully with stellar-xdr"),
    s("processor.network", None, Kind::Text, None,
      "network name or passphrase (default: recognised from the ledgers' network id)"),
    s("processor.verify", None, Kind::Bool, Some("false"),
      "check every ledger's events against its balance changes; fail on a mismatch"),
    s("processor.event_types", None, Kind::List, None, "keep only these event types (fee, transfer, mint, burn, clawback)"),
    s("processor.assets", None, Kind::List, None, "keep only these assets (native or CODE:ISSUER)"),
    s("processor.accounts", None, Kind::List, None, "keep only events from or to these addresses"),
    s("processor.contracts", None, Kind::List, None, "keep only events of these contract addresses"),
    s("processor.workers", None, Kind::Int { min: 0, max: 256 }, Some("0"),
      "ledger batches decoded and extracted at once (0 = twice the cores)"),
    s("processor.max_inflight", None, Kind::Int { min: 1, max: 100_000 }, Some("64"),
      "ledgers in flight before the processor waits (reported for flow control)"),
    s("processor.start", None, Kind::Ledger, None, "lowest ledger the processor serves"),
    s("processor.end", None, Kind::Ledger, None, "highest ledger the processor serves"),
    s("processor.state_dir", None, Kind::Text, Some(".stellarflow/processor"), "processor state"),
    s("processor.xdr_depth", None, DEPTH, Some("500"), "XDR decoding depth limit"),
    // --- sink ---
    s("sink.flight_addr", None, Kind::Addr, Some("127.0.0.1:8817"), "Arrow Flight listen address"),
    s("sink.http_addr", None, Kind::Addr, Some("127.0.0.1:8090"),
      "HTTP listen address (/health, /metrics, /ws, /api/events, /api/analytics)"),
    s("sink.processor_endpoint", None, Kind::Addr, None,
      "processor Flight address when discovery finds none (then 127.0.0.1:8816)"),
    s("sink.outputs", None, Kind::List, Some("parquet:./data"),
      "outputs, KIND:TARGET: parquet:DIR, jsonl:DIR, csv:DIR, postgres:URL, websocket"),
    s("sink.start", None, Kind::Ledger, None, "first ledger to write"),
    s("sink.end", None, Kind::Ledger, None, "last ledger to write; absent = follow live"),
    s("sink.state_dir", None, Kind::Text, Some(".stellarflow/sink"), "durable cursors live here"),
    s("sink.row_group_rows", None, Kind::Int { min: 1024, max: 16_777_216 }, Some("131072"),
      "Parquet row-group size"),
    s("sink.rotate_rows", None, Kind::Int { min: 1, max: 1_000_000_000 }, Some("1000000"),
      "start a new file after this many rows"),
    s("sink.rotate_bytes", None, Kind::Int { min: 1024, max: 1_000_000_000_000 }, Some("268435456"),
      "start a new file after about this many bytes"),
    s("sink.flush_interval", None, Kind::Duration, Some("10s"),
      "live mode: finalise files and commit at least this often"),
    s("sink.postgres_table", None, Kind::Text, Some("token_transfers"), "PostgreSQL table name"),
    s("sink.ws_queue", None, Kind::Int { min: 1, max: 1_000_000 }, Some("1024"),
      "events queued per WebSocket client before it is disconnected as too slow"),
    s("sink.recent_events", None, Kind::Int { min: 1, max: 1_000_000 }, Some("1000"),
      "events kept for /api/events"),
    s("sink.max_inflight", None, Kind::Int { min: 1, max: 100_000 }, Some("64"),
      "ledgers in flight before the sink waits (reported for flow control)"),
    // --- pipeline supervisor ---
    s("pipeline.state_dir", None, Kind::Text, Some(".stellarflow"),
      "pid files, ports, children's state and logs"),
    s("pipeline.log_dir", None, Kind::Text, None, "also write one log file per role here"),
    s("pipeline.shutdown_timeout", None, Kind::Duration, Some("10s"),
      "grace period before children are killed"),
    s("pipeline.start_timeout", None, Kind::Duration, Some("60s"),
      "a child that is not healthy after this long stops the start-up"),
    s("pipeline.restart_limit", None, Kind::Int { min: 0, max: 1000 }, Some("5"),
      "restarts allowed per restart window before the pipeline fails"),
    s("pipeline.restart_window", None, Kind::Duration, Some("60s"), "window for the restart limit"),
];

/// Looks a setting up by its dotted key.
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}
