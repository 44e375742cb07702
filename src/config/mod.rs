//! Configuration: built-in defaults < `profiles/<name>.toml` < `--config FILE`
//! < global env < component env < command-line flags, validated before any
//! work starts. Every resolved value remembers the layer that set it, which is
//! what `stellarflow config show` prints.

mod layers;
mod outputs;
mod reference;
mod settings;
mod typed;
mod validate;

pub use layers::{builtin_profiles, FlagValue, Origin};
pub use outputs::{redact, OutputSpec};
pub use reference::{env_names, markdown as reference_markdown};
pub use settings::{on, Kind, Setting, SETTINGS};
pub use settings::{
    ControlplaneSettings, FlowControlSettings, FlowctlSettings, LogSettings, MonitoringSettings,
    PipelineSettings, PoolSettings, ProcessorSettings, SecuritySettings, Settings, SinkSettings,
    SourceSettings,
};
pub use typed::{Decoder, ExtractKind, LogFormat, OnError, Serving, TtpMode};
pub use validate::parse_duration;

use std::path::PathBuf;

use figment::value::Value;

/// The roles that read configuration, each with its own section, component id
/// and environment prefix (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The flowctl-compatible control plane.
    Controlplane,
    /// The ledger source.
    Source,
    /// The token-transfer processor.
    Processor,
    /// The analytics sink.
    Sink,
    /// The supervisor that runs all of them.
    Pipeline,
}

impl Role {
    /// All roles, in pipeline start-up order.
    pub const ALL: [Role; 5] = [
        Role::Controlplane,
        Role::Source,
        Role::Processor,
        Role::Sink,
        Role::Pipeline,
    ];

    /// The config-file section holding this role's settings.
    pub fn section(self) -> &'static str {
        match self {
            Role::Controlplane => "controlplane",
            Role::Source => "source",
            Role::Processor => "processor",
            Role::Sink => "sink",
            Role::Pipeline => "pipeline",
        }
    }

    /// The component id reported to flowctl.
    pub fn component_id(self) -> &'static str {
        match self {
            Role::Controlplane => "controlplane",
            Role::Source => "stellar-arrow-source",
            Role::Processor => "ttp-arrow-processor",
            Role::Sink => "arrow-analytics-sink",
            Role::Pipeline => "pipeline",
        }
    }

    /// Prefix of the component-specific environment variables.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Role::Controlplane => "FLOWCTL",
            Role::Source => "STELLAR_ARROW_SOURCE",
            Role::Processor => "TTP_ARROW_PROCESSOR",
            Role::Sink => "ARROW_ANALYTICS_SINK",
            Role::Pipeline => "STELLARFLOW_PIPELINE",
        }
    }

    /// Parses a role name as used by `--role` and `pipeline logs ROLE`.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "controlplane" | "control-plane" => Some(Role::Controlplane),
            "source" => Some(Role::Source),
            "processor" | "process" => Some(Role::Processor),
            "sink" => Some(Role::Sink),
            "pipeline" => Some(Role::Pipeline),
            _ => None,
        }
    }

    fn from_section(section: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.section() == section)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.section())
    }
}

/// A configuration problem. Displayed as the one line the user sees before the
/// program exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// What to load: the profile and file named on the command line, the flags
/// given, and where to read the environment from (tests pass a map).
pub struct LoadOptions<'a> {
    /// `--profile NAME`.
    pub profile: Option<String>,
    /// `--config FILE` (TOML, or YAML when named `.yaml`/`.yml`).
    pub file: Option<PathBuf>,
    /// Command-line flags that set settings.
    pub flags: Vec<FlagValue>,
    /// Reads one environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Reads the process environment; the usual `LoadOptions::env`.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// One effective value and the layer that set it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The setting.
    pub setting: &'static Setting,
    /// Normalised value; `None` when unset.
    pub value: Option<Value>,
    /// Layer that set it.
    pub origin: Origin,
}

impl Resolved {
    /// The value as `config show` prints it (secrets masked).
    pub(crate) fn display_value(&self) -> String {
        // Credentials inside URLs are secrets too.
        match (&self.value, self.setting.kind) {
            (None, _) => "(unset)".into(),
            (Some(_), Kind::Secret) => "********".into(),
            (Some(Value::Array(_, items)), Kind::Outputs) => items
                .iter()
                .map(|item| OutputSpec::shown(&display(item)))
                .collect::<Vec<_>>()
                .join(","),
            (Some(v), _) => redact(&display(v)),
        }
    }
}

fn display(value: &Value) -> String {
    match value {
        Value::String(_, s) => s.clone(),
        Value::Array(_, items) => items.iter().map(display).collect::<Vec<_>>().join(","),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => validate::num_text(*n),
        other => format!("{other:?}"),
    }
}

/// The effective configuration of one role.
#[derive(Debug, Clone)]
pub struct Config {
    /// Role it was loaded for.
    pub role: Role,
    /// Profile applied, if any.
    pub profile: Option<String>,
    /// Typed settings.
    pub settings: Settings,
    /// Every setting with its value and origin, in table order.
    pub resolved: Vec<Resolved>,
}

impl Config {
    /// Where the value of `key` came from (`Origin::Default` for an
    /// unknown key).
    pub fn origin(&self, key: &str) -> Origin {
        self.resolved
            .iter()
            .find(|r| r.setting.key == key)
            .map(|r| r.origin.clone())
            .unwrap_or(Origin::Default)
    }
}

/// Loads, merges and validates the configuration of `role`.
pub fn load(role: Role, options: LoadOptions<'_>) -> Result<Config, ConfigError> {
    let figment = layers::merge(role, &options)?;
    let mut resolved = Vec::with_capacity(SETTINGS.len());
    for setting in SETTINGS {
        let (value, origin) = match figment.find_value(setting.key) {
            Ok(raw) => {
                let origin = figment
                    .get_metadata(raw.tag())
                    .map(Origin::of)
                    .unwrap_or(Origin::Default);
                let value = validate::normalise(setting, &raw, &origin.name_for(setting.key))?;
                (value, origin)
            }
            Err(_) => (None, Origin::Default),
        };
        resolved.push(Resolved {
            setting,
            value,
            origin,
        });
    }
    validate::cross_check(&resolved, role)?;
    let settings = typed::extract(&resolved)?;
    Ok(Config {
        role,
        profile: options.profile,
        settings,
        resolved,
    })
}

impl Config {
    /// Renders `config show`: every setting for the role, its value and layer.
    pub fn render(&self) -> String {
        let rows: Vec<&Resolved> = self
            .resolved
            .iter()
            .filter(|r| r.setting.applies_to(self.role))
            .collect();
        let key_width = rows.iter().map(|r| r.setting.key.len()).max().unwrap_or(0);
        let value_width = rows
            .iter()
            .map(|r| r.display_value().len().min(48))
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "# effective configuration of {} (profile: {})\n",
            self.role,
            self.profile.as_deref().unwrap_or("none")
        );
        for r in rows {
            out.push_str(&format!(
                "{:key_width$}  {:value_width$}  {}\n",
                r.setting.key,
                r.display_value(),
                r.origin
            ));
        }
        out
    }

    /// The same as JSON lines of `{key, value, source}` for scripts.
    pub fn render_json(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .resolved
            .iter()
            .filter(|r| r.setting.applies_to(self.role))
            .map(|r| {
                serde_json::json!({
                    "key": r.setting.key,
                    "value": if r.value.is_some() { serde_json::Value::String(r.display_value()) } else { serde_json::Value::Null },
                    "source": r.origin.to_string(),
                })
            })
            .collect();
        serde_json::to_string_pretty(&rows).unwrap_or_default()
    }
}
