//! The configuration layers in precedence order: profile file, `--config`
//! file, global env, component env, flags. (Defaults come from the settings
//! table.) Each entry keeps the exact name the user wrote, so an error can
//! point at the variable, flag or key that holds the bad value.

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml, Yaml};
use figment::value::{Dict, Value};
use figment::{Profile, Provider};

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
    pub flag: &'static str,
    /// Raw value (a string, or an array for repeatable flags).
    pub value: Value,
}

impl FlagValue {
    /// A single-valued flag.
    pub fn new(key: &'static str, flag: &'static str, value: impl Into<String>) -> Self {
        FlagValue {
            key,
            flag,
            value: Value::from(value.into()),
        }
    }

    /// A repeatable flag.
    pub fn list(key: &'static str, flag: &'static str, values: &[String]) -> Self {
        FlagValue {
            key,
            flag,
            value: Value::from(values.to_vec()),
        }
    }
}

/// One raw value from one layer.
pub(super) struct Entry {
    pub setting: &'static Setting,
    pub value: Value,
    pub origin: Origin,
    /// How to name it in an error: env var, flag, or `key (in FILE)`.
    pub name: String,
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

/// Collects every layer's entries in precedence order (later wins).
pub(super) fn collect(role: Role, options: &LoadOptions<'_>) -> Result<Vec<Entry>, ConfigError> {
    let mut entries = Vec::new();
    if let Some(profile) = &options.profile {
        let (text, path) = profile_text(profile)?;
        let origin = Origin::Profile(profile.clone());
        let context = format!("profile {profile} ({path})");
        entries.extend(file_entries(
            &parse_toml(&text, &context)?,
            &origin,
            &context,
        )?);
    }
    if let Some(file) = &options.file {
        let dict = parse_file(file)?;
        let context = file.display().to_string();
        entries.extend(file_entries(&dict, &Origin::File(file.clone()), &context)?);
    }
    for setting in SETTINGS {
        if let Some(env) = setting.env {
            push_env(&mut entries, setting, env, options);
        }
    }
    for setting in SETTINGS {
        let owner = match role {
            Role::Pipeline if !setting.is_global() => Role::from_section(setting.section()),
            _ => Some(role),
        };
        if let Some(env) = owner.and_then(|owner| setting.component_env(owner)) {
            push_env(&mut entries, setting, &env, options);
        }
    }
    for flag in &options.flags {
        let setting = find(flag.key).ok_or_else(|| {
            ConfigError(format!("internal: flag {} maps to no setting", flag.flag))
        })?;
        entries.push(Entry {
            setting,
            value: flag.value.clone(),
            origin: Origin::Flag(flag.flag.to_string()),
            name: flag.flag.to_string(),
        });
    }
    Ok(entries)
}

fn push_env(
    entries: &mut Vec<Entry>,
    setting: &'static Setting,
    env: &str,
    options: &LoadOptions<'_>,
) {
    if let Some(value) = (options.env)(env) {
        entries.push(Entry {
            setting,
            value: Value::from(value),
            origin: Origin::Env(env.to_string()),
            name: env.to_string(),
        });
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

/// Flattens `[section] name = value` into entries, refusing unknown keys.
fn file_entries(dict: &Dict, origin: &Origin, context: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut entries = Vec::new();
    for (section, value) in dict {
        let Value::Dict(_, names) = value else {
            return Err(ConfigError(format!(
                "unknown key `{section}` in {context}: settings live in sections such as [flowctl] or [source]"
            )));
        };
        for (name, value) in names {
            let key = format!("{section}.{name}");
            let setting = find(&key).ok_or_else(|| unknown_key(&key, section, context))?;
            entries.push(Entry {
                setting,
                value: value.clone(),
                origin: origin.clone(),
                name: format!("{key} (in {context})"),
            });
        }
    }
    Ok(entries)
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
