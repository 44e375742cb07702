//! What a pipeline run starts: the children (control plane, source,
//! processor, sink) with their addresses and configuration files, resolved
//! from the pipeline's configuration. With no ledger backend configured the plan
//! generates a small synthetic lake, so a bare `stellarflow pipeline` does
//! something useful on a machine with no network.

use std::path::{Path, PathBuf};

use crate::config::{Config, Kind, Origin, OutputSpec, Role, SecuritySettings, SETTINGS};
use crate::stellar::generator::{self, GeneratorOptions};

/// Ledgers of the built-in default lake.
pub(crate) const DEFAULT_FIRST: u32 = 1000;
/// How many.
pub(crate) const DEFAULT_COUNT: u32 = 200;

/// One child process. It is started as `stellarflow <role> --config FILE`:
/// its whole configuration is one file the supervisor writes into the state
/// dir, so nothing it needs (a PostgreSQL URL, say) appears in its argv, and
/// what it runs with can be read back from one place.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Its role.
    pub role: Role,
    /// Where its configuration file goes.
    pub config_path: PathBuf,
    /// Its state dir, where it reports the addresses it bound.
    pub state_dir: PathBuf,
    /// The file's content: `[section] name = value`.
    pub values: toml::Table,
    /// Its HTTP address (`/health`): as configured until the child reports
    /// the address it bound.
    pub http_addr: String,
    /// Its data address (Flight, or gRPC for the control plane), likewise.
    pub data_addr: String,
}

impl ChildSpec {
    fn new(role: Role, state_dir: &Path, values: toml::Table) -> Self {
        ChildSpec {
            role,
            config_path: state_dir.join("config").join(format!("{role}.toml")),
            state_dir: state_dir.join(role.to_string()),
            values,
            http_addr: String::new(),
            data_addr: String::new(),
        }
    }

    /// Sets `key` (`section.name`) in the child's configuration.
    pub fn set(&mut self, key: &str, value: impl Into<toml::Value>) {
        set(&mut self.values, key, value.into());
    }

    /// Writes the configuration file (mode 0600: it may hold credentials).
    pub(crate) fn write_config(&self) -> anyhow::Result<()> {
        if let Some(dir) = self.config_path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        let text = format!(
            "# written by `stellarflow pipeline` for its {} child; rewritten on every start\n{}",
            self.role,
            toml::to_string(&self.values)?
        );
        crate::durable::write_atomic(&self.config_path, text.as_bytes())
    }

    /// Records the addresses the child bound, and keeps them for its
    /// restarts: downstream children were given these.
    pub fn bound(&mut self, data_addr: String, http_addr: String) {
        let section = self.role.section();
        let data_key = match self.role {
            Role::Controlplane => "grpc_addr",
            _ => "flight_addr",
        };
        self.set(&format!("{section}.{data_key}"), data_addr.clone());
        self.set(&format!("{section}.http_addr"), http_addr.clone());
        self.data_addr = data_addr;
        self.http_addr = http_addr;
    }

    /// Arguments after the executable.
    pub fn args(&self) -> Vec<String> {
        let command = match self.role {
            Role::Processor => "process".to_string(),
            role => role.to_string(),
        };
        vec![
            command,
            "--config".into(),
            self.config_path.display().to_string(),
        ]
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Children in start order.
    pub children: Vec<ChildSpec>,
    /// Whether the pipeline runs its own control plane (its first child).
    pub own_controlplane: bool,
    /// First ledger asked for, if any.
    pub start: Option<u32>,
    /// Last ledger: a bounded run ends there.
    pub end: Option<u32>,
    /// Sink outputs, for the summary.
    pub outputs: Vec<String>,
    /// The pipeline's state directory.
    pub state_dir: PathBuf,
    /// The `[security]` settings the children run with: the user's, plus
    /// what the pipeline generated for them.
    pub security: SecuritySettings,
}

/// Sets `section.name` in a configuration file's table.
fn set(values: &mut toml::Table, key: &str, value: toml::Value) {
    let (section, name) = key.split_once('.').unwrap_or(("", key));
    let table = values
        .entry(section)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(table) = table {
        table.insert(name.to_string(), value);
    }
}

/// Environment variables the pipeline has already read into its own
/// configuration, and so into each child's file. Children are started
/// without them, so a value the pipeline sets for a child (its state dir,
/// say) is not overridden by the variable it was derived from. Secrets stay
/// in the environment: they are never written to a file by the pipeline.
/// A role's override of a shared setting (`STELLAR_ARROW_SOURCE_LOG_LEVEL`)
/// stays too: the pipeline does not read it, its child does.
pub(crate) fn env_read_by_the_pipeline() -> Vec<String> {
    SETTINGS
        .iter()
        .filter(|s| s.kind != Kind::Secret)
        .flat_map(|s| {
            let own = Role::ALL
                .into_iter()
                .find(|r| r.section() == s.section())
                .and_then(|r| s.component_env(r));
            s.env.map(str::to_string).into_iter().chain(own)
        })
        .collect()
}

/// What every child's file starts with: each value the user set (in a
/// profile, file, variable or flag) that the child's role reads, except
/// secrets from the environment, which the child reads from there itself.
fn base_values(config: &Config, role: Role) -> anyhow::Result<toml::Table> {
    let mut values = toml::Table::new();
    for r in &config.resolved {
        let user_set = !matches!(r.origin, Origin::Default);
        let from_env_secret = r.setting.kind == Kind::Secret && matches!(r.origin, Origin::Env(_));
        let reads = r.setting.is_global() || r.setting.section() == role.section();
        if let (Some(value), true, false, true) = (&r.value, user_set, from_env_secret, reads) {
            set(&mut values, r.setting.key, toml::Value::try_from(value)?);
        }
    }
    set(
        &mut values,
        "log.format",
        config.settings.log.format.as_str().into(),
    );
    Ok(values)
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
pub fn plan(config: &Config) -> anyhow::Result<Plan> {
    let s = &config.settings;
    let state_dir = PathBuf::from(&s.pipeline.state_dir);
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", state_dir.display()))?;
    let security = secure(&s.security, &state_dir)?;
    let child = |role: Role| -> anyhow::Result<ChildSpec> {
        let mut spec = ChildSpec::new(role, &state_dir, base_values(config, role)?);
        let dir = spec.state_dir.display().to_string();
        spec.set(&format!("{}.state_dir", role.section()), dir);
        for (key, path) in [
            ("security.auth_token_file", &security.auth_token_file),
            ("security.tls_cert", &security.tls_cert),
            ("security.tls_key", &security.tls_key),
            ("security.tls_client_ca", &security.tls_client_ca),
            ("security.tls_ca", &security.tls_ca),
        ] {
            if let Some(path) = path {
                spec.set(key, path.clone());
            }
        }
        Ok(spec)
    };
    // An endpoint set on purpose (`--flowctl-endpoint`, env, file) names an
    // external control plane; the built-in default and profiles' value do not.
    let external = matches!(
        config.origin("flowctl.endpoint"),
        Origin::Env(_) | Origin::File(_) | Origin::Flag(_)
    )
    .then(|| s.flowctl.endpoint.clone());
    let local = config.profile.as_deref() == Some("local")
        || (!s.flowctl.enabled && config.origin("flowctl.enabled") != Origin::Default);
    let mut children = Vec::new();
    // The endpoint of our own control plane is known once it has bound; the
    // supervisor then sets it in the other children's files.
    let flowctl: Option<String> = if local {
        None
    } else if let Some(endpoint) = external {
        Some(endpoint)
    } else {
        let mut cp = child(Role::Controlplane)?;
        cp.bound(
            s.controlplane.grpc_addr.clone(),
            s.controlplane.http_addr.clone(),
        );
        let endpoint = cp.data_addr.clone();
        children.push(cp);
        Some(endpoint)
    };
    let own_controlplane = !children.is_empty();
    let serving = |role: Role| -> anyhow::Result<ChildSpec> {
        let mut spec = child(role)?;
        let addrs = s
            .serving(role)
            .ok_or_else(|| anyhow::anyhow!("{role} serves nothing"))?;
        spec.bound(addrs.flight_addr.to_string(), addrs.http_addr.to_string());
        spec.set("flowctl.enabled", flowctl.is_some());
        if let Some(endpoint) = &flowctl {
            spec.set("flowctl.endpoint", endpoint.clone());
        }
        Ok(spec)
    };

    let (mut start, mut end) = (s.sink.start, s.sink.end);
    let mut source = serving(Role::Source)?;
    if s.source.datalake.is_none() && s.source.rpc_url.is_none() {
        let lake = default_lake(&state_dir)?;
        source.set("source.datalake", lake.display().to_string());
        if start.is_none() && end.is_none() {
            start = Some(DEFAULT_FIRST);
            end = Some(DEFAULT_FIRST + DEFAULT_COUNT - 1);
        }
    }
    // Each child's upstream endpoint is set by the supervisor once the
    // upstream has bound (see `Supervisor::connect`).
    let processor = serving(Role::Processor)?;
    let mut sink = serving(Role::Sink)?;
    if let Some(start) = start {
        sink.set("sink.start", i64::from(start));
    }
    if let Some(end) = end {
        sink.set("sink.end", i64::from(end));
    }
    children.extend([source, processor, sink]);

    Ok(Plan {
        children,
        own_controlplane,
        start,
        end,
        outputs: s.sink.outputs.iter().map(OutputSpec::display).collect(),
        state_dir,
        security,
    })
}

/// The `[security]` settings for the children. When authentication is
/// required (the production profile) and the user gave no token or no
/// certificate, the pipeline makes them under `<state dir>/security`: a
/// token, and a CA with a certificate that every child serves with and
/// presents to the others (mutual TLS).
fn secure(given: &SecuritySettings, state_dir: &Path) -> anyhow::Result<SecuritySettings> {
    let mut security = given.clone();
    let has_token = given.auth_token.is_some() || given.auth_token_file.is_some();
    if !given.require_auth || (has_token && given.tls_cert.is_some()) {
        return Ok(security);
    }
    let generated = crate::security::generate(&state_dir.join("security"))?;
    let path = |p: &Path| Some(p.display().to_string());
    if !has_token {
        security.auth_token_file = path(&generated.token_file);
    }
    if given.tls_cert.is_none() {
        security.tls_cert = path(&generated.cert);
        security.tls_key = path(&generated.key);
        security.tls_client_ca = path(&generated.ca);
        security.tls_ca = path(&generated.ca);
    }
    tracing::info!(dir = %state_dir.join("security").display(), "authentication required: the children use a generated token and certificates");
    Ok(security)
}
