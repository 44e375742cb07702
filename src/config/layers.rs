//! The configuration layers in precedence order: defaults, profile file,
//! `--config` file, global env, component env, flags. Each layer is a figment
//! provider whose metadata records its [`Origin`]; figment merges them, and
//! the metadata of the value that won is what `config show` prints and what
//! an error names (the variable, flag or key that holds the bad value).

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::settings::{find, Setting, SETTINGS};
use super::{ConfigError, LoadOptions, Role};

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// The settings table.
    Default,
    /// A profile file.
    Profile(String),
    /// The `--config` file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl Origin {
    /// How figment's metadata carries the origin (see [`Origin::of`]).
    fn metadata(&self) -> Metadata {
        let tag = match self {
            Origin::Default => "default".to_string(),
            Origin::Profile(name) => format!("profile:{name}"),
            Origin::File(path) => format!("file:{}", path.display()),
            Origin::Env(name) => format!("env:{name}"),
            Origin::Flag(flag) => format!("flag:{flag}"),
        };
        Metadata::named(self.to_string()).source(Source::Custom(tag))
    }

    /// The origin recorded in the metadata of a layer made here.
    pub(super) fn of(metadata: &Metadata) -> Origin {
        let Some(Source::Custom(tag)) = &metadata.source else {
            return Origin::Default;
        };
        match tag.split_once(':') {
            Some(("profile", name)) => Origin::Profile(name.into()),
            Some(("file", path)) => Origin::File(path.into()),
            Some(("env", name)) => Origin::Env(name.into()),
            Some(("flag", flag)) => Origin::Flag(flag.into()),
            _ => Origin::Default,
        }
    }

    /// How an error names the value at `key` that came from here.
    pub(super) fn name_for(&self, key: &str) -> String {
        match self {
            Origin::Default => key.to_string(),
            Origin::Profile(name) => format!("{key} (in profile {name})"),
            Origin::File(path) => format!("{key} (in {})", path.display()),
            Origin::Env(name) => name.clone(),
            Origin::Flag(flag) => flag.clone(),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::Profile(_) => f.write_str("profile"),
            Origin::File(_) => f.write_str("file"),
            Origin::Env(name) => write!(f, "env:{name}"),
            Origin::Flag(_) => f.write_str("flag"),
        }
    }
}

/// A setting given on the command line.
#[derive(Debug, Clone)]
pub struct FlagValue {
    /// Dotted setting key.
    pub key: &'static str,
    /// The flag as the user typed it, e.g. `--grpc-addr`.
    pub flag: String,
    /// Raw value (a string, or an array for repeatable flags).
    pub value: Value,
}

impl FlagValue {
    /// A single-valued flag.
    pub fn new(key: &'static str, flag: impl Into<String>, value: impl Into<String>) -> Self {
        FlagValue {
            key,
            flag: flag.into(),
            value: Value::from(value.into()),
        }
    }

    /// A repeatable flag.
    pub fn list(key: &'static str, flag: impl Into<String>, values: &[String]) -> Self {
        FlagValue {
            key,
            flag: flag.into(),
            value: Value::from(values.to_vec()),
        }
    }
}

/// One layer: values keyed `section -> name`, and where they came from.
struct Layer {
    origin: Origin,
    values: Dict,
}

impl Layer {
    fn new(origin: Origin) -> Self {
        Layer {
            origin,
            values: Dict::new(),
        }
    }

    fn set(&mut self, setting: &Setting, value: Value) {
        let section = self
            .values
            .entry(setting.section().to_string())
            .or_insert_with(|| Value::from(Dict::new()));
        if let Value::Dict(_, names) = section {
            names.insert(setting.name().to_string(), value);
        }
    }

    fn one(origin: Origin, setting: &Setting, value: Value) -> Self {
        let mut layer = Layer::new(origin);
        layer.set(setting, value);
        layer
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.origin.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// Built-in profiles, used when `./profiles/<name>.toml` does not exist.
const BUILTIN_PROFILES: &[(&str, &str)] = &[
    ("local", include_str!("../../profiles/local.toml")),
    ("flowctl", include_str!("../../profiles/flowctl.toml")),
    (
        "development",
        include_str!("../../profiles/development.toml"),
    ),
    ("production", include_str!("../../profiles/production.toml")),
];

/// Names of the built-in profiles.
pub fn builtin_profiles() -> Vec<&'static str> {
    BUILTIN_PROFILES.iter().map(|(name, _)| *name).collect()
}

/// Merges every layer in precedence order (later wins).
pub(super) fn merge(role: Role, options: &LoadOptions<'_>) -> Result<Figment, ConfigError> {
    let mut defaults = Layer::new(Origin::Default);
    for setting in SETTINGS {
        if let Some(default) = setting.default {
            defaults.set(setting, Value::from(default.to_string()));
        }
    }
    let mut figment = Figment::from(defaults);
    if let Some(profile) = &options.profile {
        let (text, path) = profile_text(profile)?;
        let context = format!("profile {profile} ({path})");
        let dict = parse_toml(&text, &context)?;
        figment = figment.merge(file_layer(
            &dict,
            Origin::Profile(profile.clone()),
            &context,
        )?);
    }
    if let Some(file) = &options.file {
        let dict = parse_file(file)?;
        let context = file.display().to_string();
        figment = figment.merge(file_layer(&dict, Origin::File(file.clone()), &context)?);
    }
    for setting in SETTINGS {
        if let Some(env) = setting.env {
            figment = merge_env(figment, setting, env, options);
        }
    }
    for setting in SETTINGS {
        let owner = match role {
            Role::Pipeline if !setting.is_global() => Role::from_section(setting.section()),
            _ => Some(role),
        };
        if let Some(env) = owner.and_then(|owner| setting.component_env(owner)) {
            figment = merge_env(figment, setting, &env, options);
        }
    }
    for flag in &options.flags {
        let setting = find(flag.key).ok_or_else(|| {
            ConfigError(format!("internal: flag {} maps to no setting", flag.flag))
        })?;
        let origin = Origin::Flag(flag.flag.clone());
        figment = figment.merge(Layer::one(origin, setting, flag.value.clone()));
    }
    Ok(figment)
}

fn merge_env(figment: Figment, setting: &Setting, env: &str, options: &LoadOptions<'_>) -> Figment {
    match (options.env)(env) {
        Some(value) => {
            let origin = Origin::Env(env.to_string());
            figment.merge(Layer::one(origin, setting, Value::from(value)))
        }
        None => figment,
    }
}

/// Finds a profile: `./profiles/<name>.toml` first, then the built-in copy.
fn profile_text(name: &str) -> Result<(String, String), ConfigError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let allowed = builtin_profiles().join(", ");
    if !valid {
        return Err(ConfigError(format!(
            "unknown profile {name:?}: expected one of {allowed} (or a file profiles/<name>.toml)"
        )));
    }
    let path = Path::new("profiles").join(format!("{name}.toml"));
    if path.is_file() {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError(format!("cannot read profile file {}: {e}", path.display()))
        })?;
        return Ok((text, path.display().to_string()));
    }
    BUILTIN_PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| (text.to_string(), "built in".to_string()))
        .ok_or_else(|| {
            ConfigError(format!(
                "unknown profile {name:?}: expected one of {allowed} (or a file profiles/{name}.toml)"
            ))
        })
}

fn parse_file(path: &Path) -> Result<Dict, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    let context = path.display().to_string();
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml") | Some("yml") => to_dict(Yaml::string(&text).data(), &context),
        _ => parse_toml(&text, &context),
    }
}

fn parse_toml(text: &str, context: &str) -> Result<Dict, ConfigError> {
    to_dict(Toml::string(text).data(), context)
}

fn to_dict(
    data: Result<figment::value::Map<Profile, Dict>, figment::Error>,
    context: &str,
) -> Result<Dict, ConfigError> {
    let mut data = data.map_err(|e| {
        let detail = e.to_string().replace('\n', " ");
        ConfigError(format!("cannot parse {context}: {detail}"))
    })?;
    Ok(data.remove(&Profile::Default).unwrap_or_default())
}

/// A file's `[section] name = value` as a layer, refusing unknown keys.
fn file_layer(dict: &Dict, origin: Origin, context: &str) -> Result<Layer, ConfigError> {
    let mut layer = Layer::new(origin);
    for (section, value) in dict {
        let Value::Dict(_, names) = value else {
            return Err(ConfigError(format!(
                "unknown key `{section}` in {context}: settings live in sections such as [flowctl] or [source]"
            )));
        };
        for (name, value) in names {
            let key = format!("{section}.{name}");
            let setting = find(&key).ok_or_else(|| unknown_key(&key, section, context))?;
            layer.set(setting, value.clone());
        }
    }
    Ok(layer)
}

fn unknown_key(key: &str, section: &str, context: &str) -> ConfigError {
    let known: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.section() == section)
        .map(|s| s.name())
        .collect();
    if known.is_empty() {
        let sections: Vec<&str> = {
            let mut v: Vec<&str> = SETTINGS.iter().map(|s| s.section()).collect();
            v.dedup();
            v
        };
        ConfigError(format!(
            "unknown key `{key}` in {context}: there is no section [{section}] (sections: {})",
            sections.join(", ")
        ))
    } else {
        ConfigError(format!(
            "unknown key `{key}` in {context}: [{section}] accepts {}",
            known.join(", ")
        ))
    }
}
