//! What a pipeline run starts: the children (control plane, source,
//! processor, sink) with their addresses and flags, resolved from the
//! pipeline's configuration. With no ledger backend configured the plan
//! generates a small synthetic lake, so a bare `stellarflow pipeline` does
//! something useful on a machine with no network.

use std::path::{Path, PathBuf};

use crate::cli::PipelineRunArgs;
use crate::config::{Config, Origin, Role};
use crate::stellar::generator::{self, GeneratorOptions};

/// Ledgers of the built-in default lake.
pub const DEFAULT_FIRST: u32 = 1000;
/// How many.
pub const DEFAULT_COUNT: u32 = 200;

/// One child process.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Its role.
    pub role: Role,
    /// Arguments after the executable.
    pub args: Vec<String>,
    /// Its HTTP address (`/health`).
    pub http_addr: String,
    /// Its data address (Flight, or gRPC for the control plane).
    pub data_addr: String,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Children in start order.
    pub children: Vec<ChildSpec>,
    /// The control plane's HTTP address, when the pipeline runs one.
    pub controlplane_http: Option<String>,
    /// First ledger asked for, if any.
    pub start: Option<u32>,
    /// Last ledger: a bounded run ends there.
    pub end: Option<u32>,
    /// Sink outputs, for the summary.
    pub outputs: Vec<String>,
    /// The pipeline's state directory.
    pub state_dir: PathBuf,
}

/// A concrete address: port 0 becomes a free port now, so the pipeline
/// knows where each child listens.
fn concrete(addr: &str) -> anyhow::Result<String> {
    if let Some(host) = addr.strip_suffix(":0") {
        let listener = std::net::TcpListener::bind(format!("{host}:0"))
            .map_err(|e| anyhow::anyhow!("cannot find a free port on {host}: {e}"))?;
        return Ok(listener.local_addr()?.to_string());
    }
    Ok(addr.to_string())
}

fn common_args(args: &PipelineRunArgs, config: &Config) -> Vec<String> {
    let mut out = vec![
        "--log-format".to_string(),
        config.settings.log.format.clone(),
    ];
    if let Some(profile) = &args.common.profile {
        out.extend(["--profile".into(), profile.clone()]);
    }
    if let Some(file) = &args.common.config {
        out.extend(["--config".into(), file.display().to_string()]);
    }
    if let Some(level) = &args.common.log_level {
        out.extend(["--log-level".into(), level.clone()]);
    }
    out
}

/// Generates the default lake under the state dir unless it is there.
fn default_lake(state_dir: &Path) -> anyhow::Result<PathBuf> {
    let lake = state_dir.join("lake");
    if !lake.join(".config.json").is_file() {
        eprintln!(
            "no --datalake or --rpc-url: generating {DEFAULT_COUNT} synthetic ledgers ({DEFAULT_FIRST}..={}) into {}",
            DEFAULT_FIRST + DEFAULT_COUNT - 1,
            lake.display()
        );
        let options = GeneratorOptions::new(DEFAULT_FIRST, DEFAULT_COUNT, 1);
        generator::write_lake(&options, &lake, None)?;
    }
    Ok(lake)
}

/// Resolves the plan.
pub fn plan(args: &PipelineRunArgs, config: &Config) -> anyhow::Result<Plan> {
    let s = &config.settings;
    let state_dir = PathBuf::from(&s.pipeline.state_dir);
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", state_dir.display()))?;
    let common = common_args(args, config);
    // An endpoint set on purpose (`--flowctl-endpoint`, env, file) names an
    // external control plane; the built-in default and profiles' value do not.
    let external = matches!(
        config.origin("flowctl.endpoint"),
        Origin::Env(_) | Origin::File(_) | Origin::Flag(_)
    )
    .then(|| s.flowctl.endpoint.clone());
    let local = args.common.profile.as_deref() == Some("local")
        || (!s.flowctl.enabled && config.origin("flowctl.enabled") != Origin::Default);
    let mut children = Vec::new();
    let mut controlplane_http = None;
    let flowctl_args: Vec<String> = if local {
        vec!["--no-flowctl".into()]
    } else if let Some(endpoint) = external {
        vec!["--flowctl-endpoint".into(), endpoint]
    } else {
        let grpc = concrete(&s.controlplane.grpc_addr)?;
        let http = concrete(&s.controlplane.http_addr)?;
        let mut cp = vec![
            "controlplane".to_string(),
            "--grpc-addr".into(),
            grpc.clone(),
            "--http-addr".into(),
            http.clone(),
        ];
        cp.extend([
            "--state-dir".into(),
            state_dir.join("controlplane").display().to_string(),
        ]);
        cp.extend(common.clone());
        children.push(ChildSpec {
            role: Role::Controlplane,
            args: cp,
            http_addr: http.clone(),
            data_addr: grpc.clone(),
        });
        controlplane_http = Some(http);
        vec!["--flowctl-endpoint".into(), grpc]
    };

    let (mut start, mut end) = (s.sink.start, s.sink.end);
    let mut source = vec!["source".to_string()];
    match (&s.source.datalake, &s.source.rpc_url) {
        (Some(lake), _) => source.extend(["--datalake".into(), lake.clone()]),
        (None, Some(url)) => source.extend(["--rpc-url".into(), url.clone()]),
        (None, None) => {
            let lake = default_lake(&state_dir)?;
            source.extend(["--datalake".into(), lake.display().to_string()]);
            if start.is_none() && end.is_none() {
                start = Some(DEFAULT_FIRST);
                end = Some(DEFAULT_FIRST + DEFAULT_COUNT - 1);
            }
        }
    }
    if let Some(network) = &s.source.network {
        source.extend(["--network".into(), network.clone()]);
    }
    // From the effective config, so a flag, env var or file all reach the
    // child the same way.
    if s.source.s3_anonymous {
        source.push("--s3-anonymous".into());
    }
    if let Some(region) = &s.source.s3_region {
        source.extend(["--s3-region".into(), region.clone()]);
    }
    if let Some(endpoint) = &s.source.s3_endpoint {
        source.extend(["--s3-endpoint".into(), endpoint.clone()]);
    }
    if s.source.max_rate > 0 {
        source.extend(["--max-rate".into(), s.source.max_rate.to_string()]);
    }
    let (source_flight, source_http) = (
        concrete(&s.source.flight_addr)?,
        concrete(&s.source.http_addr)?,
    );
    source.extend([
        "--flight-addr".into(),
        source_flight.clone(),
        "--http-addr".into(),
        source_http.clone(),
    ]);
    source.extend([
        "--state-dir".into(),
        state_dir.join("source").display().to_string(),
    ]);
    source.extend(flowctl_args.clone());
    source.extend(common.clone());
    children.push(ChildSpec {
        role: Role::Source,
        args: source,
        http_addr: source_http,
        data_addr: source_flight.clone(),
    });

    let (processor_flight, processor_http) = (
        concrete(&s.processor.flight_addr)?,
        concrete(&s.processor.http_addr)?,
    );
    let mut processor = vec![
        "process".to_string(),
        "--source-endpoint".into(),
        source_flight,
    ];
    processor.extend([
        "--kind".into(),
        s.processor.kind.clone(),
        "--mode".into(),
        s.processor.mode.clone(),
    ]);
    processor.extend([
        "--flight-addr".into(),
        processor_flight.clone(),
        "--http-addr".into(),
        processor_http.clone(),
    ]);
    processor.extend([
        "--state-dir".into(),
        state_dir.join("processor").display().to_string(),
    ]);
    processor.extend(flowctl_args.clone());
    processor.extend(common.clone());
    children.push(ChildSpec {
        role: Role::Processor,
        args: processor,
        http_addr: processor_http,
        data_addr: processor_flight.clone(),
    });

    let (sink_flight, sink_http) = (concrete(&s.sink.flight_addr)?, concrete(&s.sink.http_addr)?);
    let mut sink = vec![
        "sink".to_string(),
        "--processor-endpoint".into(),
        processor_flight,
    ];
    for output in &s.sink.outputs {
        sink.extend(["--output".into(), output.clone()]);
    }
    if let Some(start) = start {
        sink.extend(["--start".into(), start.to_string()]);
    }
    if let Some(end) = end {
        sink.extend(["--end".into(), end.to_string()]);
    }
    sink.extend([
        "--flight-addr".into(),
        sink_flight.clone(),
        "--http-addr".into(),
        sink_http.clone(),
    ]);
    sink.extend([
        "--state-dir".into(),
        state_dir.join("sink").display().to_string(),
    ]);
    sink.extend(flowctl_args);
    sink.extend(common);
    children.push(ChildSpec {
        role: Role::Sink,
        args: sink,
        http_addr: sink_http,
        data_addr: sink_flight,
    });

    Ok(Plan {
        children,
        controlplane_http,
        start,
        end,
        outputs: s.sink.outputs.clone(),
        state_dir,
    })
}
