//! Checks each raw value against its setting's kind and turns it into a
//! normalised value, plus the checks that involve two settings.

use figment::value::{Num, Value};

use super::settings::{Kind, Setting};
use super::{ConfigError, Origin, Resolved, Role};

/// Validates `raw` for `setting`; `name` says where it came from.
/// Returns `None` for an empty optional text value.
pub(super) fn normalise(
    setting: &Setting,
    raw: &Value,
    name: &str,
) -> Result<Option<Value>, ConfigError> {
    let fail = |shown: &str| {
        ConfigError(format!(
            "invalid value for {name}: {shown:?} (expected {})",
            setting.kind.allowed()
        ))
    };
    let text = scalar_text(raw);
    let shown = text.clone().unwrap_or_else(|| format!("{raw:?}"));
    match setting.kind {
        Kind::List | Kind::Outputs => {
            let items = match raw {
                Value::Array(_, items) => {
                    let mut out = Vec::new();
                    for item in items {
                        let item = scalar_text(item).ok_or_else(|| fail(&shown))?;
                        out.extend(split_list(&item));
                    }
                    out
                }
                _ => split_list(&text.ok_or_else(|| fail(&shown))?),
            };
            if setting.kind == Kind::Outputs {
                super::outputs::check(&items).map_err(|why| {
                    ConfigError(format!(
                        "invalid value for {name}: {why} (expected {})",
                        setting.kind.allowed()
                    ))
                })?;
            } else if items.is_empty() && setting.default.is_some() {
                return Err(fail(""));
            }
            Ok((!items.is_empty()).then(|| Value::from(items)))
        }
        Kind::Text | Kind::Secret => {
            let text = text.ok_or_else(|| fail(&shown))?;
            let text = text.trim();
            // Empty means unset, except where that would silently mean
            // something else: a default taking over, or auth turned off.
            if text.is_empty() && (setting.default.is_some() || setting.kind == Kind::Secret) {
                return Err(ConfigError(format!(
                    "invalid value for {name}: \"\" (expected {}, not empty)",
                    if setting.kind == Kind::Secret {
                        "a token"
                    } else {
                        "text"
                    }
                )));
            }
            Ok((!text.is_empty()).then(|| Value::from(text.to_string())))
        }
        _ => {
            let text = text.ok_or_else(|| fail(&shown))?;
            let text = text.trim();
            if text.is_empty() && matches!(setting.kind, Kind::Ledger) {
                return Ok(None);
            }
            scalar(setting.kind, text)
                .map(Some)
                .ok_or_else(|| fail(text))
        }
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(_, s) => Some(s.clone()),
        Value::Char(_, c) => Some(c.to_string()),
        Value::Bool(_, b) => Some(b.to_string()),
        Value::Num(_, n) => Some(num_text(*n)),
        _ => None,
    }
}

/// A number as text: integers without a fraction, whatever their width.
pub(super) fn num_text(n: Num) -> String {
    match (n.to_i128(), n.to_u128()) {
        (Some(i), _) => i.to_string(),
        (None, Some(u)) => u.to_string(),
        _ => num_f64(n).to_string(),
    }
}

fn num_f64(n: Num) -> f64 {
    n.to_i128()
        .map(|i| i as f64)
        .or_else(|| n.to_u128().map(|u| u as f64))
        .or_else(|| n.to_f64())
        .unwrap_or(f64::NAN)
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn scalar(kind: Kind, text: &str) -> Option<Value> {
    match kind {
        Kind::Bool => parse_bool(text).map(Value::from),
        Kind::Addr => is_listen_addr(text).then(|| Value::from(text.to_string())),
        Kind::Endpoint => is_endpoint(text).then(|| Value::from(text.to_string())),
        Kind::Duration => parse_duration(text).map(|_| Value::from(text.to_string())),
        Kind::Period => parse_duration(text)
            .filter(|d| !d.is_zero())
            .map(|_| Value::from(text.to_string())),
        Kind::Url => is_http_url(text).then(|| Value::from(text.to_string())),
        Kind::LogFilter => is_log_filter(text).then(|| Value::from(text.to_string())),
        Kind::Int { min, max } => text
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(Value::from),
        Kind::Ledger => text.parse::<u32>().ok().map(Value::from),
        Kind::Float { min, max } => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && (min..=max).contains(n))
            .map(Value::from),
        Kind::Enum(words) => words.contains(&text).then(|| Value::from(text.to_string())),
        Kind::Text | Kind::Secret | Kind::List | Kind::Outputs => {
            Some(Value::from(text.to_string()))
        }
    }
}

/// An `http://` or `https://` URL with a host.
fn is_http_url(text: &str) -> bool {
    url::Url::parse(text)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// A level word, or tracing directives. A bare word that is not a level
/// would parse as a target name and silence everything else, so it is
/// refused.
fn is_log_filter(text: &str) -> bool {
    const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];
    let directives_ok = text.split(',').map(str::trim).all(|d| {
        !d.is_empty()
            && (LEVELS.contains(&d.to_ascii_lowercase().as_str())
                || d.contains('=')
                || d.contains("::")
                || d.contains('['))
    });
    directives_ok && tracing_subscriber::EnvFilter::try_new(text).is_ok()
}

/// Parses `true/false`, `1/0`, `yes/no`, `on/off` (any case).
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses a duration with a unit: `500ms`, `10s`, `5m`, `1h`, `1h30m`.
/// A bare number is refused: the unit is never guessed.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    if text.is_empty() || text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    humantime::parse_duration(text).ok()
}

/// `host:port` with a non-empty host of letters, digits, `.`, `-`, `_` (or a
/// bracketed IPv6 address) and a port from 1 to 65535.
pub(crate) fn is_host_port(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    };
    host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
}

/// Like `is_host_port` but port 0 (any free port) is allowed: these keys
/// are also listen addresses.
fn is_listen_addr(text: &str) -> bool {
    is_host_port(text)
        || text
            .strip_suffix(":0")
            .is_some_and(|host| is_host_port(&format!("{host}:1")))
}

/// A control-plane endpoint: `host:port`, `:port`, or `http(s)://host:port`.
pub(crate) fn is_endpoint(text: &str) -> bool {
    if let Some(rest) = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
    {
        return is_host_port(rest.trim_end_matches('/'));
    }
    if let Some(port) = text.strip_prefix(':') {
        return port.parse::<u16>().is_ok_and(|p| p > 0);
    }
    is_host_port(text)
}

fn get<'a>(resolved: &'a [Resolved], key: &str) -> Option<&'a Resolved> {
    resolved.iter().find(|r| r.setting.key == key)
}

/// How to name a resolved value in a message: the env var or flag that set
/// it, else its key.
fn label(r: &Resolved) -> String {
    match &r.origin {
        Origin::Env(name) | Origin::Flag(name) => name.clone(),
        _ => r.setting.key.to_string(),
    }
}

fn number(r: &Resolved) -> Option<f64> {
    match &r.value {
        Some(Value::Num(_, n)) => Some(num_f64(*n)),
        _ => None,
    }
}

/// Checks between settings: pool min ≤ max, recovery < backpressure,
/// start ≤ end.
pub(super) fn cross_check(resolved: &[Resolved], role: Role) -> Result<(), ConfigError> {
    let pair = |a: &str, b: &str| Some((get(resolved, a)?, get(resolved, b)?));
    if let Some((min, max)) = pair(
        "connection_pool.min_connections",
        "connection_pool.max_connections",
    ) {
        if let (Some(lo), Some(hi)) = (number(min), number(max)) {
            if lo > hi {
                return Err(ConfigError(format!(
                    "invalid value for {}: \"{lo}\" (expected at most {} = {hi}: the pool minimum cannot exceed its maximum)",
                    label(min),
                    label(max)
                )));
            }
        }
    }
    if let Some((rec, bp)) = pair(
        "flow_control.recovery_threshold",
        "flow_control.backpressure_threshold",
    ) {
        if let (Some(r), Some(b)) = (number(rec), number(bp)) {
            if r >= b {
                return Err(ConfigError(format!(
                    "invalid value for {}: \"{r}\" (expected below {} = {b}: recovery must come before backpressure)",
                    label(rec),
                    label(bp)
                )));
            }
        }
    }
    let both = |a: &str, b: &str| {
        let (a, b) = pair(a, b)?;
        Some((a, b)).filter(|(a, b)| a.value.is_some() && b.value.is_some())
    };
    let one_without = |a: &str, b: &str| {
        let (a, b) = pair(a, b)?;
        Some((a, b)).filter(|(a, b)| a.value.is_some() && b.value.is_none())
    };
    if matches!(role, Role::Source | Role::Pipeline) {
        if let Some((lake, rpc)) = both("source.datalake", "source.rpc_url") {
            return Err(ConfigError(format!(
                "invalid value for {}: {:?} (expected no RPC URL when {} is set: a source reads a data lake or RPC, not both)",
                label(rpc),
                rpc.display_value(),
                label(lake)
            )));
        }
    }
    // TLS needs a certificate and its key, and mutual TLS a certificate:
    // the control plane's own settings (its roles only) and the shared ones.
    let sections: &[&str] = if matches!(role, Role::Controlplane | Role::Pipeline) {
        &["controlplane", "security"]
    } else {
        &["security"]
    };
    for section in sections {
        for (a, b) in [
            ("tls_cert", "tls_key"),
            ("tls_key", "tls_cert"),
            ("tls_client_ca", "tls_cert"),
        ] {
            let (a, b) = (format!("{section}.{a}"), format!("{section}.{b}"));
            if let Some((set, missing)) = one_without(&a, &b) {
                return Err(ConfigError(format!(
                    "invalid value for {}: {:?} (expected {} too: TLS needs a certificate and its key)",
                    label(set),
                    set.display_value(),
                    missing.setting.key
                )));
            }
        }
    }
    for section in ["processor", "sink"] {
        if role != Role::Pipeline && role.section() != section {
            continue;
        }
        if let Some((start, end)) = pair(&format!("{section}.start"), &format!("{section}.end")) {
            if let (Some(s), Some(e)) = (number(start), number(end)) {
                if s > e {
                    return Err(ConfigError(format!(
                        "invalid value for {}: \"{s}\" (expected at most {} = {e}: the range starts after it ends)",
                        label(start),
                        label(end)
                    )));
                }
            }
        }
    }
    Ok(())
}
