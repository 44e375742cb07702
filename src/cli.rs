//! The command line: subcommands, their flags, and how flags map onto
//! configuration keys. Parsing only; the work lives in the role folders.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, ConfigError, FlagValue, LoadOptions, Role};

/// stellarflow turns Stellar ledgers into analytics-ready token-transfer data.
#[derive(Debug, Parser)]
#[command(
    name = "stellarflow",
    version,
    about = "Turn Stellar ledgers into analytics-ready token-transfer data",
    long_about = "Turn Stellar ledgers into analytics-ready token-transfer data.\n\n\
        Roles (source -> process -> sink) talk over Arrow Flight and register with a\n\
        flowctl-compatible control plane. `stellarflow pipeline` runs all of them.\n\n\
        Configuration layers, later wins: defaults < profiles/<name>.toml < --config FILE\n\
        < global env (FLOWCTL_ENDPOINT, ...) < component env (STELLAR_ARROW_SOURCE_...,\n\
        TTP_ARROW_PROCESSOR_..., ARROW_ANALYTICS_SINK_...) < flags.\n\
        `stellarflow config show --role ROLE` prints the effective values."
)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the flowctl-compatible control plane (registry, health, discovery, flow control)
    Controlplane(ControlplaneArgs),
    /// Read ledgers (data lake, Stellar RPC) and serve them over Arrow Flight
    Source(SourceArgs),
    /// Extract token-transfer (or contract-data) events and serve them over Arrow Flight
    Process(ProcessArgs),
    /// Write events to Parquet, JSONL, CSV, PostgreSQL and a WebSocket feed
    Sink(SinkArgs),
    /// Start and supervise control plane, source, processor and sink
    Pipeline(PipelineArgs),
    /// Write a synthetic but valid Stellar data lake
    Generate(GenerateArgs),
    /// Measure the data path and the control plane side by side
    Bench(BenchArgs),
    /// Show the effective configuration and where each value came from
    Config(ConfigArgs),
}

/// Flags every command takes.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// Profile to apply: local, flowctl, development, production (or profiles/NAME.toml)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Configuration file (TOML, or YAML when it ends in .yaml/.yml)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log line format
    #[arg(long, value_name = "text|json")]
    pub log_format: Option<String>,
    /// Log filter: error, warn, info, debug, trace
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

impl CommonArgs {
    fn flags(&self, out: &mut Vec<FlagValue>) {
        opt(out, "log.format", "--log-format", &self.log_format);
        opt(out, "log.level", "--log-level", &self.log_level);
    }

    /// Loads the configuration of `role` with these common flags and `flags`.
    pub fn load(&self, role: Role, mut flags: Vec<FlagValue>) -> Result<Config, ConfigError> {
        self.flags(&mut flags);
        config::load(
            role,
            LoadOptions {
                profile: self.profile.clone(),
                file: self.config.clone(),
                flags,
                env: &config::process_env,
            },
        )
    }
}

/// Control-plane client flags of the data roles.
#[derive(Debug, Clone, Default, Args)]
pub struct FlowctlArgs {
    /// Register with the control plane at HOST:PORT (enables flowctl)
    #[arg(long, value_name = "HOST:PORT")]
    pub flowctl_endpoint: Option<String>,
    /// Do not register with a control plane
    #[arg(long, conflicts_with = "flowctl_endpoint")]
    pub no_flowctl: bool,
    /// Heartbeat interval, e.g. 10s
    #[arg(long, value_name = "DURATION")]
    pub heartbeat_interval: Option<String>,
}

impl FlowctlArgs {
    fn flags(&self, out: &mut Vec<FlagValue>) {
        if let Some(endpoint) = &self.flowctl_endpoint {
            out.push(FlagValue::new(
                "flowctl.enabled",
                "--flowctl-endpoint",
                "true",
            ));
            out.push(FlagValue::new(
                "flowctl.endpoint",
                "--flowctl-endpoint",
                endpoint,
            ));
        }
        if self.no_flowctl {
            out.push(FlagValue::new("flowctl.enabled", "--no-flowctl", "false"));
        }
        opt(
            out,
            "flowctl.heartbeat_interval",
            "--heartbeat-interval",
            &self.heartbeat_interval,
        );
    }
}

fn opt(out: &mut Vec<FlagValue>, key: &'static str, flag: &'static str, value: &Option<String>) {
    if let Some(value) = value {
        out.push(FlagValue::new(key, flag, value));
    }
}

fn opt_num<T: ToString>(
    out: &mut Vec<FlagValue>,
    key: &'static str,
    flag: &'static str,
    value: &Option<T>,
) {
    if let Some(value) = value {
        out.push(FlagValue::new(key, flag, value.to_string()));
    }
}

fn switch(out: &mut Vec<FlagValue>, key: &'static str, flag: &'static str, on: bool) {
    if on {
        out.push(FlagValue::new(key, flag, "true"));
    }
}

fn list(out: &mut Vec<FlagValue>, key: &'static str, flag: &'static str, values: &[String]) {
    if !values.is_empty() {
        out.push(FlagValue::list(key, flag, values));
    }
}

/// `stellarflow controlplane`.
#[derive(Debug, Args)]
pub struct ControlplaneArgs {
    /// gRPC listen address [default: 127.0.0.1:8080]
    #[arg(long, value_name = "HOST:PORT")]
    pub grpc_addr: Option<String>,
    /// HTTP admin listen address [default: 127.0.0.1:8081]
    #[arg(long, value_name = "HOST:PORT")]
    pub http_addr: Option<String>,
    /// Unhealthy after this long without a heartbeat, e.g. 30s or 200ms [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// How often expiry is checked [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub sweep_interval: Option<String>,
    /// Keep the registry in DIR so a restart remembers services
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<String>,
    /// PEM server certificate (enables TLS)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<String>,
    /// PEM server key
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<String>,
    /// PEM CA that client certificates must chain to (enables mutual TLS)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<String>,
    /// Require `authorization: Bearer TOKEN` on every RPC (also FLOWCTL_AUTH_TOKEN)
    #[arg(long, value_name = "TOKEN")]
    pub auth_token: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

impl ControlplaneArgs {
    /// Flags that set configuration keys.
    pub fn flags(&self) -> Vec<FlagValue> {
        let mut out = Vec::new();
        opt(
            &mut out,
            "controlplane.grpc_addr",
            "--grpc-addr",
            &self.grpc_addr,
        );
        opt(
            &mut out,
            "controlplane.http_addr",
            "--http-addr",
            &self.http_addr,
        );
        opt(&mut out, "controlplane.ttl", "--ttl", &self.ttl);
        opt(
            &mut out,
            "controlplane.sweep_interval",
            "--sweep-interval",
            &self.sweep_interval,
        );
        opt(
            &mut out,
            "controlplane.state_dir",
            "--state-dir",
            &self.state_dir,
        );
        opt(
            &mut out,
            "controlplane.tls_cert",
            "--tls-cert",
            &self.tls_cert,
        );
        opt(&mut out, "controlplane.tls_key", "--tls-key", &self.tls_key);
        opt(
            &mut out,
            "controlplane.tls_client_ca",
            "--tls-client-ca",
            &self.tls_client_ca,
        );
        opt(
            &mut out,
            "flowctl.auth_token",
            "--auth-token",
            &self.auth_token,
        );
        out
    }
}

/// `stellarflow source`.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Arrow Flight listen address [default: 127.0.0.1:8815]
    #[arg(long, value_name = "HOST:PORT")]
    pub flight_addr: Option<String>,
    /// HTTP listen address for /health and /metrics [default: 127.0.0.1:8088]
    #[arg(long, value_name = "HOST:PORT")]
    pub http_addr: Option<String>,
    /// Data lake: a path, file://..., s3://bucket/prefix or gs://bucket/prefix
    #[arg(long, value_name = "URL")]
    pub datalake: Option<String>,
    /// Stellar RPC URL (instead of a data lake)
    #[arg(long, value_name = "URL", conflicts_with = "datalake")]
    pub rpc_url: Option<String>,
    /// pubnet, testnet, futurenet, standalone or a passphrase
    #[arg(long, value_name = "NAME|PASSPHRASE")]
    pub network: Option<String>,
    /// Objects fetched ahead in parallel [default: 2 x cores, or 16 x cores when passed on compressed]
    #[arg(long, value_name = "N")]
    pub prefetch: Option<u32>,
    /// On a bad ledger: fail, or skip it and record it in <state-dir>/quarantine.jsonl
    #[arg(long, value_name = "fail|skip")]
    pub on_error: Option<String>,
    /// Read a public S3 bucket without credentials
    #[arg(long)]
    pub s3_anonymous: bool,
    /// S3 region
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// S3-compatible endpoint URL
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Live mode: wait between looks for the next ledger [default: 1s]
    #[arg(long, value_name = "DURATION")]
    pub poll_interval: Option<String>,
    /// Ledgers in flight before the source waits [default: 64]
    #[arg(long, value_name = "N")]
    pub max_inflight: Option<u32>,
    /// Serve at most N ledgers per second (replays, demos) [default: 0 = unlimited]
    #[arg(long, value_name = "N")]
    pub max_rate: Option<u32>,
    /// Directory for the quarantine file [default: .stellarflow/source]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub flowctl: FlowctlArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

impl SourceArgs {
    /// Flags that set configuration keys.
    pub fn flags(&self) -> Vec<FlagValue> {
        let mut out = Vec::new();
        opt(
            &mut out,
            "source.flight_addr",
            "--flight-addr",
            &self.flight_addr,
        );
        opt(&mut out, "source.http_addr", "--http-addr", &self.http_addr);
        opt(&mut out, "source.datalake", "--datalake", &self.datalake);
        opt(&mut out, "source.rpc_url", "--rpc-url", &self.rpc_url);
        opt(&mut out, "source.network", "--network", &self.network);
        opt_num(&mut out, "source.prefetch", "--prefetch", &self.prefetch);
        opt(&mut out, "source.on_error", "--on-error", &self.on_error);
        switch(
            &mut out,
            "source.s3_anonymous",
            "--s3-anonymous",
            self.s3_anonymous,
        );
        opt(&mut out, "source.s3_region", "--s3-region", &self.s3_region);
        opt(
            &mut out,
            "source.s3_endpoint",
            "--s3-endpoint",
            &self.s3_endpoint,
        );
        opt(
            &mut out,
            "source.poll_interval",
            "--poll-interval",
            &self.poll_interval,
        );
        opt_num(
            &mut out,
            "source.max_inflight",
            "--max-inflight",
            &self.max_inflight,
        );
        opt_num(&mut out, "source.max_rate", "--max-rate", &self.max_rate);
        opt(&mut out, "source.state_dir", "--state-dir", &self.state_dir);
        self.flowctl.flags(&mut out);
        out
    }
}

/// `stellarflow process`.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Arrow Flight listen address [default: 127.0.0.1:8816]
    #[arg(long, value_name = "HOST:PORT")]
    pub flight_addr: Option<String>,
    /// HTTP listen address for /health and /metrics [default: 127.0.0.1:8089]
    #[arg(long, value_name = "HOST:PORT")]
    pub http_addr: Option<String>,
    /// Source Flight address when discovery finds none [default: 127.0.0.1:8815]
    #[arg(long, value_name = "HOST:PORT")]
    pub source_endpoint: Option<String>,
    /// What to extract: ttp (token transfers) or contract-data
    #[arg(long, value_name = "ttp|contract-data")]
    pub kind: Option<String>,
    /// TTP mode: auto, unified (CAP-67 events) or derived (from operations)
    #[arg(long, value_name = "auto|unified|derived")]
    pub mode: Option<String>,
    /// XDR decoder: fast (read in place) or reference (full stellar-xdr decode) [default: fast]
    #[arg(long, value_name = "fast|reference")]
    pub decoder: Option<String>,
    /// Network name or passphrase [default: recognised from the ledgers]
    #[arg(long, value_name = "NAME|PASSPHRASE")]
    pub network: Option<String>,
    /// Check every ledger's events against its balance changes
    #[arg(long)]
    pub verify: bool,
    /// Keep only these event types (comma separated): fee, transfer, mint, burn, clawback
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    pub event_types: Vec<String>,
    /// Keep only these assets: native or CODE:ISSUER
    #[arg(long, value_name = "ASSETS", value_delimiter = ',')]
    pub assets: Vec<String>,
    /// Keep only events from or to these addresses
    #[arg(long, value_name = "ADDRESSES", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// Keep only events of these contracts (C... addresses)
    #[arg(long, value_name = "CONTRACTS", value_delimiter = ',')]
    pub contracts: Vec<String>,
    /// Ledger batches decoded and extracted at once [default: twice the cores]
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Lowest ledger served
    #[arg(long, value_name = "LEDGER")]
    pub start: Option<String>,
    /// Highest ledger served
    #[arg(long, value_name = "LEDGER")]
    pub end: Option<String>,
    /// State directory [default: .stellarflow/processor]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub flowctl: FlowctlArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

impl ProcessArgs {
    /// Flags that set configuration keys.
    pub fn flags(&self) -> Vec<FlagValue> {
        let mut out = Vec::new();
        opt(
            &mut out,
            "processor.flight_addr",
            "--flight-addr",
            &self.flight_addr,
        );
        opt(
            &mut out,
            "processor.http_addr",
            "--http-addr",
            &self.http_addr,
        );
        opt(
            &mut out,
            "processor.source_endpoint",
            "--source-endpoint",
            &self.source_endpoint,
        );
        opt(&mut out, "processor.kind", "--kind", &self.kind);
        opt(&mut out, "processor.mode", "--mode", &self.mode);
        opt(&mut out, "processor.decoder", "--decoder", &self.decoder);
        opt(&mut out, "processor.network", "--network", &self.network);
        switch(&mut out, "processor.verify", "--verify", self.verify);
        list(
            &mut out,
            "processor.event_types",
            "--event-types",
            &self.event_types,
        );
        list(&mut out, "processor.assets", "--assets", &self.assets);
        list(&mut out, "processor.accounts", "--accounts", &self.accounts);
        list(
            &mut out,
            "processor.contracts",
            "--contracts",
            &self.contracts,
        );
        opt_num(&mut out, "processor.workers", "--workers", &self.workers);
        opt(&mut out, "processor.start", "--start", &self.start);
        opt(&mut out, "processor.end", "--end", &self.end);
        opt(
            &mut out,
            "processor.state_dir",
            "--state-dir",
            &self.state_dir,
        );
        self.flowctl.flags(&mut out);
        out
    }
}

/// `stellarflow sink`.
#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Arrow Flight listen address [default: 127.0.0.1:8817]
    #[arg(long, value_name = "HOST:PORT")]
    pub flight_addr: Option<String>,
    /// HTTP listen address: /health, /metrics, /ws, /api/events, /api/analytics [default: 127.0.0.1:8090]
    #[arg(long, value_name = "HOST:PORT")]
    pub http_addr: Option<String>,
    /// Processor Flight address when discovery finds none [default: 127.0.0.1:8816]
    #[arg(long, value_name = "HOST:PORT")]
    pub processor_endpoint: Option<String>,
    /// Output, repeatable: parquet:DIR, jsonl:DIR, csv:DIR, postgres:URL, websocket [default: parquet:./data]
    #[arg(long = "output", value_name = "KIND:TARGET")]
    pub outputs: Vec<String>,
    /// First ledger to write
    #[arg(long, value_name = "LEDGER")]
    pub start: Option<String>,
    /// Last ledger to write; without it the sink follows the network live
    #[arg(long, value_name = "LEDGER")]
    pub end: Option<String>,
    /// Durable cursors live here [default: .stellarflow/sink]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<String>,
    /// Parquet row-group size [default: 131072]
    #[arg(long, value_name = "ROWS")]
    pub row_group_rows: Option<u32>,
    /// Start a new file after this many rows [default: 1000000]
    #[arg(long, value_name = "ROWS")]
    pub rotate_rows: Option<u64>,
    /// Start a new file after about this many bytes [default: 268435456]
    #[arg(long, value_name = "BYTES")]
    pub rotate_bytes: Option<u64>,
    /// Live mode: finalise files and commit at least this often [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub flush_interval: Option<String>,
    /// PostgreSQL table [default: token_transfers]
    #[arg(long, value_name = "NAME")]
    pub postgres_table: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub flowctl: FlowctlArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

impl SinkArgs {
    /// Flags that set configuration keys.
    pub fn flags(&self) -> Vec<FlagValue> {
        let mut out = Vec::new();
        opt(
            &mut out,
            "sink.flight_addr",
            "--flight-addr",
            &self.flight_addr,
        );
        opt(&mut out, "sink.http_addr", "--http-addr", &self.http_addr);
        opt(
            &mut out,
            "sink.processor_endpoint",
            "--processor-endpoint",
            &self.processor_endpoint,
        );
        list(&mut out, "sink.outputs", "--output", &self.outputs);
        opt(&mut out, "sink.start", "--start", &self.start);
        opt(&mut out, "sink.end", "--end", &self.end);
        opt(&mut out, "sink.state_dir", "--state-dir", &self.state_dir);
        opt_num(
            &mut out,
            "sink.row_group_rows",
            "--row-group-rows",
            &self.row_group_rows,
        );
        opt_num(
            &mut out,
            "sink.rotate_rows",
            "--rotate-rows",
            &self.rotate_rows,
        );
        opt_num(
            &mut out,
            "sink.rotate_bytes",
            "--rotate-bytes",
            &self.rotate_bytes,
        );
        opt(
            &mut out,
            "sink.flush_interval",
            "--flush-interval",
            &self.flush_interval,
        );
        opt(
            &mut out,
            "sink.postgres_table",
            "--postgres-table",
            &self.postgres_table,
        );
        self.flowctl.flags(&mut out);
        out
    }
}

/// `stellarflow pipeline`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  stellarflow pipeline
      generate 200 synthetic ledgers, write their token transfers to ./data as Parquet, print a summary
  stellarflow pipeline --profile production --datalake s3://aws-public-blockchain/v1.1/stellar/ledgers/pubnet \\
      --s3-anonymous --s3-region us-east-2 --network pubnet --start 58000000 --end 58000999 --output parquet:./pubnet
  stellarflow pipeline --rpc-url https://rpc.example.org --network testnet --output websocket
      follow testnet live and serve a WebSocket feed on the sink's HTTP address (/ws)
  stellarflow pipeline status | health | stop | logs sink --follow
      from another terminal (same --state-dir)"
)]
pub struct PipelineArgs {
    /// Inspect or control a running pipeline from another terminal
    #[command(subcommand)]
    pub action: Option<PipelineAction>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub run: PipelineRunArgs,
}

/// Options of a pipeline run.
#[derive(Debug, Clone, Default, Args)]
pub struct PipelineRunArgs {
    /// Data lake for the source (default: a generated lake in <state-dir>/lake)
    #[arg(long, value_name = "URL")]
    pub datalake: Option<String>,
    /// Stellar RPC URL for the source
    #[arg(long, value_name = "URL", conflicts_with = "datalake")]
    pub rpc_url: Option<String>,
    /// Network name or passphrase
    #[arg(long, value_name = "NAME|PASSPHRASE")]
    pub network: Option<String>,
    /// Read a public S3 bucket without credentials
    #[arg(long)]
    pub s3_anonymous: bool,
    /// S3 region of the data lake (the public pubnet lake is in us-east-2)
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Source serves at most N ledgers per second [default: 0 = unlimited]
    #[arg(long, value_name = "N")]
    pub max_rate: Option<u32>,
    /// First ledger
    #[arg(long, value_name = "LEDGER")]
    pub start: Option<String>,
    /// Last ledger; without it the pipeline follows the network live
    #[arg(long, value_name = "LEDGER")]
    pub end: Option<String>,
    /// Sink output, repeatable: parquet:DIR, jsonl:DIR, csv:DIR, postgres:URL, websocket
    #[arg(long = "output", value_name = "KIND:TARGET")]
    pub outputs: Vec<String>,
    /// Processor kind: ttp or contract-data
    #[arg(long, value_name = "ttp|contract-data")]
    pub kind: Option<String>,
    /// TTP mode: auto, unified or derived
    #[arg(long, value_name = "auto|unified|derived")]
    pub mode: Option<String>,
    /// Use this external control plane instead of starting one
    #[arg(long, value_name = "HOST:PORT")]
    pub flowctl_endpoint: Option<String>,
    /// Pid files, ports, children's state [default: ./.stellarflow]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<String>,
    /// Also write one log file per role into DIR
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<String>,
    /// Grace period before children are killed on shutdown [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub shutdown_timeout: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

impl PipelineRunArgs {
    /// Flags that set configuration keys.
    pub fn flags(&self) -> Vec<FlagValue> {
        let mut out = Vec::new();
        opt(&mut out, "source.datalake", "--datalake", &self.datalake);
        opt(&mut out, "source.rpc_url", "--rpc-url", &self.rpc_url);
        opt(&mut out, "source.network", "--network", &self.network);
        switch(
            &mut out,
            "source.s3_anonymous",
            "--s3-anonymous",
            self.s3_anonymous,
        );
        opt(&mut out, "source.s3_region", "--s3-region", &self.s3_region);
        opt_num(&mut out, "source.max_rate", "--max-rate", &self.max_rate);
        opt(&mut out, "sink.start", "--start", &self.start);
        opt(&mut out, "sink.end", "--end", &self.end);
        list(&mut out, "sink.outputs", "--output", &self.outputs);
        opt(&mut out, "processor.kind", "--kind", &self.kind);
        opt(&mut out, "processor.mode", "--mode", &self.mode);
        if let Some(endpoint) = &self.flowctl_endpoint {
            out.push(FlagValue::new(
                "flowctl.enabled",
                "--flowctl-endpoint",
                "true",
            ));
            out.push(FlagValue::new(
                "flowctl.endpoint",
                "--flowctl-endpoint",
                endpoint,
            ));
        }
        opt(
            &mut out,
            "pipeline.state_dir",
            "--state-dir",
            &self.state_dir,
        );
        opt(&mut out, "pipeline.log_dir", "--log-dir", &self.log_dir);
        opt(
            &mut out,
            "pipeline.shutdown_timeout",
            "--shutdown-timeout",
            &self.shutdown_timeout,
        );
        out
    }
}

/// `stellarflow pipeline <action>`.
#[derive(Debug, Subcommand)]
pub enum PipelineAction {
    /// Role, pid, uptime, restarts, health and current ledger of each child
    Status(PipelineStateArgs),
    /// Exit 0 only if every child is healthy
    Health(PipelineStateArgs),
    /// Stop a running pipeline (SIGTERM to the supervisor)
    Stop(PipelineStateArgs),
    /// Print a role's log (or all), optionally following it
    Logs(PipelineLogsArgs),
}

/// Where to find a running pipeline.
#[derive(Debug, Args)]
pub struct PipelineStateArgs {
    /// The pipeline's state directory [default: ./.stellarflow]
    #[arg(long, value_name = "DIR", default_value = ".stellarflow")]
    pub state_dir: PathBuf,
}

/// `stellarflow pipeline logs`.
#[derive(Debug, Args)]
pub struct PipelineLogsArgs {
    /// controlplane, source, processor or sink (default: all)
    pub role: Option<String>,
    /// Keep printing new lines
    #[arg(long, short)]
    pub follow: bool,
    /// The pipeline's state directory [default: ./.stellarflow]
    #[arg(long, value_name = "DIR", default_value = ".stellarflow")]
    pub state_dir: PathBuf,
}

/// `stellarflow generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write the data lake into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// First ledger sequence
    #[arg(long, value_name = "LEDGER", default_value_t = 1000)]
    pub start: u32,
    /// Number of ledgers
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub count: u32,
    /// standalone, testnet, pubnet or futurenet
    #[arg(long, value_name = "NAME", default_value = "standalone")]
    pub network: String,
    /// Random seed; the same seed writes byte-identical ledgers
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub seed: u64,
    /// Transactions per ledger
    #[arg(long, value_name = "T", default_value_t = 40)]
    pub txs_per_ledger: u32,
    /// Instead of synthesising, re-sequence the real ledgers of this lake
    #[arg(long, value_name = "DIR")]
    pub from_lake: Option<PathBuf>,
    /// Ledgers per object
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub ledgers_per_batch: u32,
    /// Objects per partition directory
    #[arg(long, value_name = "N", default_value_t = 64000)]
    pub batches_per_partition: u32,
    /// Also write the token-transfer events put into the ledgers, as JSON lines
    #[arg(long, value_name = "FILE", conflicts_with = "from_lake")]
    pub expected_events: Option<PathBuf>,
}

/// `stellarflow bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure (default: the whole data path)
    #[command(subcommand)]
    pub target: Option<BenchTarget>,
}

/// Benchmark targets.
#[derive(Debug, Subcommand)]
pub enum BenchTarget {
    /// N concurrent clients heartbeating a control plane over loopback
    Controlplane(BenchControlplaneArgs),
    /// zstd only, zstd + XDR decode, and the Flight do_get rate of the source
    Source(BenchDataArgs),
    /// XDR decode, extraction in process, and events/s through Flight
    Process(BenchDataArgs),
    /// Rows/s and MB/s into Parquet, JSONL and PostgreSQL
    Sink(BenchSinkArgs),
    /// Every data-path stage plus the whole pipeline into Parquet
    All(BenchDataArgs),
    /// The fast decoder checked against the reference (and timed) on real and generated ledgers
    Decoders(BenchDecodersArgs),
}

/// `bench decoders`.
#[derive(Debug, Args)]
pub struct BenchDecodersArgs {
    /// Data lake whose ledgers to check too (default: the real fixture lake when it is beside the project)
    #[arg(long, value_name = "DIR")]
    pub datalake: Option<PathBuf>,
    /// Generated ledgers to check (every operation the generator makes)
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub generated: u32,
    /// Transactions per generated ledger
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub txs_per_ledger: u32,
    /// Also write every checked ledger to DIR as a fuzzing seed (a network byte, then the XDR)
    #[arg(long, value_name = "DIR")]
    pub write_corpus: Option<PathBuf>,
}

/// `bench controlplane`.
#[derive(Debug, Args)]
pub struct BenchControlplaneArgs {
    /// Concurrent services heartbeating
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub services: u32,
    /// Measurement time, e.g. 10s
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub duration: String,
    /// gRPC connections the clients share
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub connections: u32,
    /// Offered load of the paced run, heartbeats/s across all services
    #[arg(long, value_name = "N", default_value_t = 20000)]
    pub rate: u32,
}

/// Data-path benchmarks.
#[derive(Debug, Args)]
pub struct BenchDataArgs {
    /// Data lake to read (default: the real fixture ledgers re-sequenced into --ledgers ledgers, or generated ones)
    #[arg(long, value_name = "DIR")]
    pub datalake: Option<PathBuf>,
    /// Ledgers to make when no lake is given
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub ledgers: u32,
    /// Repeat each measurement this many times and keep the best
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rounds: u32,
    /// Print the figures as one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Sink benchmark.
#[derive(Debug, Args)]
pub struct BenchSinkArgs {
    /// Ledgers to generate events from
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub ledgers: u32,
    /// PostgreSQL URL (default: postgres://postgres@127.0.0.1:5432/test; skipped when unreachable)
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}

/// `stellarflow config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// Config actions.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print every effective value and the layer that set it
    Show(ConfigShowArgs),
    /// Print every setting (key, environment variables, default, accepted
    /// values) as Markdown: the README's configuration reference
    Reference,
}

/// `config show`.
#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// controlplane, source, processor, sink or pipeline
    #[arg(long, value_name = "ROLE", default_value = "pipeline")]
    pub role: String,
    /// Output format
    #[arg(long, value_name = "text|json", default_value = "text")]
    pub format: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}
