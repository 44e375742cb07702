//! Every setting stellarflow knows, defined once. Each field below is one
//! setting: its doc comment is the help text, then its Rust type, what it
//! accepts, its default, its global environment name and which commands take
//! it as a flag. From that one definition come the typed section structs the
//! roles read, the table that drives validation, environment names, flags,
//! `config show` and `config reference`. Adding a setting is adding a field.

use std::time::Duration;

use serde::Deserialize;

use super::outputs::OutputSpec;
use super::typed::{setting, Decoder, ExtractKind, LogFormat, OnError, TtpMode};
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
    /// The sink's outputs: a list of `KIND:TARGET` specs.
    Outputs,
    /// A duration above zero: a period or a timeout.
    Period,
    /// An `http://` or `https://` URL.
    Url,
    /// A log filter: a level, or tracing directives.
    LogFilter,
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
            Kind::Outputs => {
                "outputs, comma-separated: parquet:DIR, jsonl:DIR, csv:DIR, postgres:URL or websocket"
                    .into()
            }
            Kind::Period => "a duration above zero such as 500ms, 10s, 5m or 1h".into(),
            Kind::Url => "an http:// or https:// URL".into(),
            Kind::LogFilter => {
                "error, warn, info, debug, trace, off, or tracing directives such as info,stellarflow=debug"
                    .into()
            }
        }
    }
}

/// Which commands take a setting as a flag: a bit set over the commands.
pub mod on {
    /// Never a flag (file and environment only).
    pub(crate) const NONE: u8 = 0;
    /// `stellarflow controlplane`.
    pub(crate) const CONTROLPLANE: u8 = 1;
    /// `stellarflow source`.
    pub(crate) const SOURCE: u8 = 1 << 1;
    /// `stellarflow process`.
    pub(crate) const PROCESS: u8 = 1 << 2;
    /// `stellarflow sink`.
    pub(crate) const SINK: u8 = 1 << 3;
    /// `stellarflow pipeline`.
    pub(crate) const PIPELINE: u8 = 1 << 4;
    /// `stellarflow config show`.
    pub(crate) const SHOW: u8 = 1 << 5;
    /// The three data roles.
    pub(crate) const DATA: u8 = SOURCE | PROCESS | SINK;
    /// Every command that loads a configuration.
    pub const ALL: u8 = CONTROLPLANE | DATA | PIPELINE | SHOW;
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
    /// The field's doc comment, as written (see [`Setting::help`]).
    pub doc: &'static str,
    /// Commands that take it as a flag (bits of [`on`]).
    pub commands: u8,
    /// The flag's name when it is not the key's name with dashes.
    pub flag_name: Option<&'static str>,
}

impl Setting {
    /// One line for `config show`, `--help` and the README.
    pub(crate) fn help(&self) -> &'static str {
        self.doc.trim()
    }

    /// The section part of the key (`flowctl` in `flowctl.endpoint`).
    pub fn section(&self) -> &'static str {
        self.key.split('.').next().unwrap_or(self.key)
    }

    /// The name part of the key (`endpoint` in `flowctl.endpoint`).
    pub fn name(&self) -> &'static str {
        self.key.split_once('.').map(|(_, n)| n).unwrap_or(self.key)
    }

    /// The flag without its dashes: `flight-addr` for `source.flight_addr`.
    pub fn flag(&self) -> String {
        self.flag_name
            .map(str::to_string)
            .unwrap_or_else(|| self.name().replace('_', "-"))
    }

    /// Whether the setting is shared by all roles (overridable per component).
    pub(crate) fn is_global(&self) -> bool {
        GLOBAL_SECTIONS.contains(&self.section())
    }

    /// Whether `config show --role` lists this setting for `role`.
    pub(crate) fn applies_to(&self, role: Role) -> bool {
        self.is_global() || role == Role::Pipeline || self.section() == role.section()
    }

    /// The component-specific environment name as `role` reads it:
    /// `<PREFIX>_<ENV>` for global settings that have an env name (only the
    /// three data roles override globals), `<PREFIX>_<NAME>` for the role's
    /// own settings.
    pub(crate) fn component_env(&self, role: Role) -> Option<String> {
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
pub(crate) const GLOBAL_SECTIONS: &[&str] = &[
    "flowctl",
    "connection_pool",
    "monitoring",
    "flow_control",
    "log",
    "security",
];

/// `Some` of an optional macro argument, or `None` when it was left out.
macro_rules! maybe {
    () => {
        None
    };
    ($value:literal) => {
        Some($value)
    };
}

/// Defines the sections: each field becomes a typed struct field and a row
/// of [`SETTINGS`], so the two cannot disagree.
macro_rules! sections {
    ($(
        $(#[doc = $section_doc:literal])*
        $section:ident: $Struct:ident {
            $(
                $(#[doc = $doc:literal])+
                $name:ident: $ty:ty, $kind:expr
                $(, default $default:literal)?
                $(, env $env:literal)?
                , on $commands:expr
                $(, flag $flag:literal)?;
            )+
        }
    )+) => {
        $(
            $(#[doc = $section_doc])*
            #[derive(Debug, Clone, Deserialize)]
            pub struct $Struct {
                $(
                    $(#[doc = $doc])+
                    #[serde(deserialize_with = "setting")]
                    pub $name: $ty,
                )+
            }
        )+

        /// Every section of the configuration, typed.
        #[derive(Debug, Clone, Deserialize)]
        pub struct Settings {
            $(
                $(#[doc = $section_doc])*
                pub $section: $Struct,
            )+
        }

        /// Every setting, grouped by section, in definition order.
        pub const SETTINGS: &[Setting] = &[
            $($(
                Setting {
                    key: concat!(stringify!($section), ".", stringify!($name)),
                    env: maybe!($($env)?),
                    kind: $kind,
                    default: maybe!($($default)?),
                    doc: concat!($($doc),+),
                    commands: $commands,
                    flag_name: maybe!($($flag)?),
                },
            )+)+
        ];
    };
}

const DEPTH: Kind = Kind::Int { min: 1, max: 4096 };
const INFLIGHT: Kind = Kind::Int {
    min: 1,
    max: 100_000,
};

sections! {
    /// `[flowctl]`: how every role talks to the control plane.
    flowctl: FlowctlSettings {
        /// register with a control plane, heartbeat and discover peers
        enabled: bool, Kind::Bool, default "false", env "ENABLE_FLOWCTL", on on::NONE;
        /// control-plane gRPC endpoint
        endpoint: String, Kind::Endpoint, default "127.0.0.1:8080", env "FLOWCTL_ENDPOINT",
            on on::DATA | on::PIPELINE, flag "flowctl-endpoint";
        /// how often a role sends its heartbeat and metrics
        heartbeat_interval: Duration, Kind::Period, default "10s",
            env "FLOWCTL_HEARTBEAT_INTERVAL", on on::DATA;
        /// polling interval for discovery against a control plane without WatchServices
        discovery_interval: Duration, Kind::Period, default "30s",
            env "FLOWCTL_DISCOVERY_INTERVAL", on on::NONE;
        /// register under this service id instead of a generated one
        service_id: Option<String>, Kind::Text, env "FLOWCTL_SERVICE_ID", on on::NONE;
        /// component id reported at registration (defaults to the role's component id)
        component_id: Option<String>, Kind::Text, env "FLOWCTL_COMPONENT_ID", on on::NONE;
        /// host other roles use to reach this one (default: the bind host, or this
        /// machine's hostname when bound to 0.0.0.0)
        advertise_host: Option<String>, Kind::Text, env "FLOWCTL_ADVERTISE_HOST", on on::NONE;
        /// bearer token: required by the control plane, sent by clients
        auth_token: Option<String>, Kind::Secret, env "FLOWCTL_AUTH_TOKEN", on on::CONTROLPLANE;
        /// PEM CA bundle clients use to verify an https:// control plane
        ca_cert: Option<String>, Kind::Text, env "FLOWCTL_CA_CERT", on on::NONE;
        /// PEM client certificate for mutual TLS
        client_cert: Option<String>, Kind::Text, env "FLOWCTL_CLIENT_CERT", on on::NONE;
        /// PEM client key for mutual TLS
        client_key: Option<String>, Kind::Text, env "FLOWCTL_CLIENT_KEY", on on::NONE;
    }
    /// `[connection_pool]`: connections per endpoint.
    connection_pool: PoolSettings {
        /// maximum connections per endpoint (PostgreSQL sink, upstream clients)
        max_connections: u32, Kind::Int { min: 1, max: 50 }, default "10",
            env "CONNECTION_POOL_MAX_CONNECTIONS", on on::NONE;
        /// connections kept open per endpoint
        min_connections: u32, Kind::Int { min: 1, max: 10 }, default "2",
            env "CONNECTION_POOL_MIN_CONNECTIONS", on on::NONE;
        /// idle connections are closed after this long
        idle_timeout: Duration, Kind::Period, default "5m",
            env "CONNECTION_POOL_IDLE_TIMEOUT", on on::NONE;
    }
    /// `[monitoring]`.
    monitoring: MonitoringSettings {
        /// interval of progress log lines and pipeline monitoring
        interval: Duration, Kind::Period, default "5s", env "MONITORING_INTERVAL", on on::NONE;
    }
    /// `[flow_control]`: backpressure thresholds.
    flow_control: FlowControlSettings {
        /// global load at which backpressure turns on
        backpressure_threshold: f64, Kind::Float { min: 0.0, max: 1.0 }, default "0.8",
            env "FLOW_CONTROL_BACKPRESSURE_THRESHOLD", on on::NONE;
        /// global load below which backpressure turns off (must be below the
        /// backpressure threshold)
        recovery_threshold: f64, Kind::Float { min: 0.0, max: 1.0 }, default "0.6",
            env "FLOW_CONTROL_RECOVERY_THRESHOLD", on on::NONE;
    }
    /// `[log]`.
    log: LogSettings {
        /// log line format
        format: LogFormat, Kind::Enum(LogFormat::WORDS), default "text", env "LOG_FORMAT",
            on on::ALL, flag "log-format";
        /// log filter (error, warn, info, debug, trace or a tracing filter)
        level: String, Kind::LogFilter, default "info", env "LOG_LEVEL", on on::ALL, flag "log-level";
    }
    /// `[security]`: bearer tokens and TLS on every port of every role. A role
    /// overrides any of these with its own variable (`SOURCE_STELLARFLOW_TLS_CERT`).
    security: SecuritySettings {
        /// bearer token every Flight, gRPC and HTTP port requires (all but /health) and
        /// every client sends; prefer auth_token_file, and never put it on a command line
        auth_token: Option<String>, Kind::Secret, env "STELLARFLOW_AUTH_TOKEN", on on::NONE;
        /// file whose first line is the bearer token (keep it mode 0600)
        auth_token_file: Option<String>, Kind::Text, env "STELLARFLOW_AUTH_TOKEN_FILE",
            on on::ALL;
        /// PEM certificate this role serves with (enables TLS) and presents as a client under mTLS
        tls_cert: Option<String>, Kind::Text, env "STELLARFLOW_TLS_CERT", on on::DATA | on::PIPELINE;
        /// PEM private key of tls_cert
        tls_key: Option<String>, Kind::Text, env "STELLARFLOW_TLS_KEY", on on::DATA | on::PIPELINE;
        /// PEM CA that client certificates must chain to (enables mutual TLS)
        tls_client_ca: Option<String>, Kind::Text, env "STELLARFLOW_TLS_CLIENT_CA",
            on on::DATA | on::PIPELINE;
        /// PEM CA clients use to verify the servers they connect to (enables TLS for clients)
        tls_ca: Option<String>, Kind::Text, env "STELLARFLOW_TLS_CA", on on::DATA | on::PIPELINE;
        /// refuse to start without a bearer token; `pipeline` generates a token and a
        /// self-signed CA for its children instead (the production profile sets this)
        require_auth: bool, Kind::Bool, default "false", env "STELLARFLOW_REQUIRE_AUTH", on on::NONE;
        /// allow serving a non-loopback address with neither a token nor TLS
        insecure: bool, Kind::Bool, default "false", env "STELLARFLOW_INSECURE", on on::ALL & !on::SHOW;
    }
    /// `[controlplane]`.
    controlplane: ControlplaneSettings {
        /// gRPC listen address (flowctl.ControlPlane, stellarflow.v1, grpc.health.v1)
        grpc_addr: String, Kind::Addr, default "127.0.0.1:8080", on on::CONTROLPLANE;
        /// HTTP admin listen address (/health, /metrics, /api/*)
        http_addr: String, Kind::Addr, default "127.0.0.1:8081", on on::CONTROLPLANE;
        /// a service without a heartbeat for this long is unhealthy
        ttl: Duration, Kind::Period, default "30s", on on::CONTROLPLANE;
        /// how often expiry is checked
        sweep_interval: Duration, Kind::Period, default "10s", on on::CONTROLPLANE;
        /// remove a service this long after it expired (missed its TTL)
        expired_grace: Duration, Kind::Period, default "5m", on on::CONTROLPLANE;
        /// most services registered at once; more registrations are refused
        max_services: u32, Kind::Int { min: 1, max: 1_000_000 }, default "1000",
            on on::CONTROLPLANE;
        /// largest registration or heartbeat (bytes, metadata and metrics included)
        max_service_bytes: u32, Kind::Int { min: 1024, max: 4_194_304 }, default "65536",
            on on::CONTROLPLANE;
        /// keep the registry here so a restarted control plane remembers services
        state_dir: Option<String>, Kind::Text, on on::CONTROLPLANE;
        /// PEM server certificate (enables TLS)
        tls_cert: Option<String>, Kind::Text, on on::CONTROLPLANE;
        /// PEM server key
        tls_key: Option<String>, Kind::Text, on on::CONTROLPLANE;
        /// PEM CA for client certificates (enables mutual TLS)
        tls_client_ca: Option<String>, Kind::Text, on on::CONTROLPLANE;
    }
    /// `[source]`.
    source: SourceSettings {
        /// Arrow Flight listen address
        flight_addr: String, Kind::Addr, default "127.0.0.1:8815", on on::SOURCE;
        /// HTTP listen address (/health, /metrics)
        http_addr: String, Kind::Addr, default "127.0.0.1:8088", on on::SOURCE;
        /// data lake: a path, file://, s3://bucket/prefix or gs://bucket/prefix
        datalake: Option<String>, Kind::Text, on on::SOURCE | on::PIPELINE;
        /// Stellar RPC URL (instead of a data lake)
        rpc_url: Option<String>, Kind::Url, on on::SOURCE | on::PIPELINE;
        /// pubnet, testnet, futurenet, standalone or a passphrase (checked against the lake)
        network: Option<String>, Kind::Text, on on::SOURCE | on::PIPELINE;
        /// objects fetched ahead in parallel (0 = 2 x cores, or 16 x cores when passed on
        /// compressed)
        prefetch: u32, Kind::Int { min: 0, max: 512 }, default "0", on on::SOURCE;
        /// on a bad ledger: fail the stream, or skip it and record it in quarantine.jsonl
        on_error: OnError, Kind::Enum(OnError::WORDS), default "fail", on on::SOURCE;
        /// read a public S3 bucket without credentials
        s3_anonymous: bool, Kind::Bool, default "false", on on::SOURCE | on::PIPELINE;
        /// S3 region (default from AWS_REGION, else us-east-1)
        s3_region: Option<String>, Kind::Text, on on::SOURCE | on::PIPELINE;
        /// S3-compatible endpoint URL
        s3_endpoint: Option<String>, Kind::Url, on on::SOURCE | on::PIPELINE;
        /// live mode: wait between looks for the next ledger
        poll_interval: Duration, Kind::Period, default "1s", on on::SOURCE;
        /// lakes without .config.json: ledgers per object
        ledgers_per_batch: u32, Kind::Int { min: 1, max: 1_000_000 }, default "1", on on::NONE;
        /// lakes without .config.json: objects per partition
        batches_per_partition: u32, Kind::Int { min: 1, max: 10_000_000 }, default "64000",
            on on::NONE;
        /// serve at most this many ledgers per second (0 = as fast as possible; replays,
        /// demos)
        max_rate: u32, Kind::Int { min: 0, max: 1_000_000 }, default "0",
            on on::SOURCE | on::PIPELINE;
        /// ledgers in flight before the source waits (reported for flow control)
        max_inflight: u32, INFLIGHT, default "64", on on::SOURCE;
        /// quarantine file location
        state_dir: String, Kind::Text, default ".stellarflow/source", on on::SOURCE;
        /// most bytes decompressed and held at once across every prefetched object;
        /// an object that would need more is refused (stops zstd bombs)
        max_decompressed_bytes: u64, Kind::Int { min: 16_777_216, max: 1_099_511_627_776 },
            default "1073741824", on on::SOURCE;
        /// XDR decoding depth limit
        xdr_depth: u32, DEPTH, default "500", on on::NONE;
    }
    /// `[processor]`.
    processor: ProcessorSettings {
        /// Arrow Flight listen address
        flight_addr: String, Kind::Addr, default "127.0.0.1:8816", on on::PROCESS;
        /// HTTP listen address (/health, /metrics)
        http_addr: String, Kind::Addr, default "127.0.0.1:8089", on on::PROCESS;
        /// source Flight address when discovery finds none (then 127.0.0.1:8815)
        source_endpoint: Option<String>, Kind::Addr, on on::PROCESS;
        /// what to extract: token transfers or Soroban contract-data changes
        kind: ExtractKind, Kind::Enum(ExtractKind::WORDS), default "ttp",
            on on::PROCESS | on::PIPELINE;
        /// TTP mode: CAP-67 events, derived from operations, or unified when every tx has
        /// V4 meta
        mode: TtpMode, Kind::Enum(TtpMode::WORDS), default "auto", on on::PROCESS | on::PIPELINE;
        /// XDR decoder: read in place and decode only what the rules use, or decode fully
        /// with stellar-xdr
        decoder: Decoder, Kind::Enum(Decoder::WORDS), default "fast", on on::PROCESS;
        /// network name or passphrase (default: recognised from the ledgers' network id)
        network: Option<String>, Kind::Text, on on::PROCESS;
        /// check every ledger's events against its balance changes; fail on a mismatch
        verify: bool, Kind::Bool, default "false", on on::PROCESS;
        /// keep only these event types (fee, transfer, mint, burn, clawback)
        event_types: Vec<String>, Kind::List, on on::PROCESS;
        /// keep only these assets (native or CODE:ISSUER)
        assets: Vec<String>, Kind::List, on on::PROCESS;
        /// keep only events from or to these addresses
        accounts: Vec<String>, Kind::List, on on::PROCESS;
        /// keep only events of these contract addresses
        contracts: Vec<String>, Kind::List, on on::PROCESS;
        /// ledger batches decoded and extracted at once (0 = twice the cores)
        workers: u32, Kind::Int { min: 0, max: 256 }, default "0", on on::PROCESS;
        /// ledgers in flight before the processor waits (reported for flow control)
        max_inflight: u32, INFLIGHT, default "64", on on::NONE;
        /// lowest ledger the processor serves
        start: Option<u32>, Kind::Ledger, on on::PROCESS;
        /// highest ledger the processor serves
        end: Option<u32>, Kind::Ledger, on on::PROCESS;
        /// processor state
        state_dir: String, Kind::Text, default ".stellarflow/processor", on on::PROCESS;
        /// XDR decoding depth limit
        xdr_depth: u32, DEPTH, default "500", on on::NONE;
    }
    /// `[sink]`.
    sink: SinkSettings {
        /// Arrow Flight listen address
        flight_addr: String, Kind::Addr, default "127.0.0.1:8817", on on::SINK;
        /// HTTP listen address (/health, /metrics, /ws, /api/events, /api/analytics)
        http_addr: String, Kind::Addr, default "127.0.0.1:8090", on on::SINK;
        /// processor Flight address when discovery finds none (then 127.0.0.1:8816)
        processor_endpoint: Option<String>, Kind::Addr, on on::SINK;
        /// outputs, KIND:TARGET: parquet:DIR, jsonl:DIR, csv:DIR, postgres:URL, websocket
        outputs: Vec<OutputSpec>, Kind::Outputs, default "parquet:./data", on on::SINK | on::PIPELINE,
            flag "output";
        /// first ledger to write
        start: Option<u32>, Kind::Ledger, on on::SINK | on::PIPELINE;
        /// last ledger to write; absent = follow live
        end: Option<u32>, Kind::Ledger, on on::SINK | on::PIPELINE;
        /// durable cursors live here
        state_dir: String, Kind::Text, default ".stellarflow/sink", on on::SINK;
        /// Parquet row-group size
        row_group_rows: u32, Kind::Int { min: 1024, max: 16_777_216 }, default "131072",
            on on::SINK;
        /// start a new file after this many rows
        rotate_rows: u64, Kind::Int { min: 1, max: 1_000_000_000 }, default "1000000",
            on on::SINK;
        /// start a new file after about this many bytes
        rotate_bytes: u64, Kind::Int { min: 1024, max: 1_000_000_000_000 }, default "268435456",
            on on::SINK;
        /// live mode: finalise files and commit at least this often
        flush_interval: Duration, Kind::Period, default "10s", on on::SINK;
        /// PostgreSQL table name
        postgres_table: String, Kind::Text, default "token_transfers", on on::SINK;
        /// events queued per WebSocket client before it is disconnected as too slow
        ws_queue: u32, Kind::Int { min: 1, max: 1_000_000 }, default "1024", on on::NONE;
        /// events kept for /api/events
        recent_events: u32, Kind::Int { min: 1, max: 1_000_000 }, default "1000", on on::NONE;
        /// ledgers in flight before the sink waits (reported for flow control)
        max_inflight: u32, INFLIGHT, default "64", on on::NONE;
    }
    /// `[pipeline]`: the supervisor.
    pipeline: PipelineSettings {
        /// pid files, ports, children's state and logs
        state_dir: String, Kind::Text, default ".stellarflow", on on::PIPELINE;
        /// also write one log file per role here
        log_dir: Option<String>, Kind::Text, on on::PIPELINE;
        /// grace period before children are killed
        shutdown_timeout: Duration, Kind::Duration, default "10s", on on::PIPELINE;
        /// a child that is not healthy after this long stops the start-up
        start_timeout: Duration, Kind::Period, default "60s", on on::NONE;
        /// restarts allowed per restart window before the pipeline fails
        restart_limit: u32, Kind::Int { min: 0, max: 1000 }, default "5", on on::NONE;
        /// window for the restart limit
        restart_window: Duration, Kind::Period, default "60s", on on::NONE;
    }
}

/// Looks a setting up by its dotted key.
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}
