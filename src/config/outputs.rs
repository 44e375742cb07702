//! The sink's outputs as a typed setting: `--output KIND:TARGET` parsed once,
//! when the configuration loads, so a bad spec stops `pipeline` before any
//! child starts, and every part that shows a spec hides its password.

use std::path::PathBuf;

/// A parsed `--output`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutputSpec {
    /// `parquet:DIR`.
    Parquet(PathBuf),
    /// `jsonl:DIR`.
    Jsonl(PathBuf),
    /// `csv:DIR`.
    Csv(PathBuf),
    /// `postgres:URL`.
    Postgres(String),
    /// `websocket`.
    WebSocket,
}

impl OutputSpec {
    /// Parses `KIND:TARGET`.
    /// The error says why, for a message that names where the spec came
    /// from and shows it with its password hidden.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let bad = |why: &str| why.to_string();
        if spec == "websocket" || spec == "websocket:" {
            return Ok(OutputSpec::WebSocket);
        }
        let (kind, target) = spec.split_once(':').ok_or_else(|| bad("no KIND: prefix"))?;
        if target.is_empty() {
            return Err(bad("empty target"));
        }
        match kind {
            "parquet" => Ok(OutputSpec::Parquet(target.into())),
            "jsonl" => Ok(OutputSpec::Jsonl(target.into())),
            "csv" => Ok(OutputSpec::Csv(target.into())),
            "postgres" | "postgresql" => {
                let url_ok = url::Url::parse(target).is_ok_and(|u| {
                    matches!(u.scheme(), "postgres" | "postgresql") && u.host_str().is_some()
                });
                if !(url_ok || target.contains('=')) {
                    return Err(bad(
                        "the PostgreSQL target must be a URL like postgres://user@host:5432/db",
                    ));
                }
                Ok(OutputSpec::Postgres(target.to_string()))
            }
            _ => Err(bad(&format!("unknown output kind {kind:?}"))),
        }
    }

    /// A spec as written, with any URL password hidden (for errors about
    /// specs that do not parse).
    pub fn shown(spec: &str) -> String {
        match spec.split_once(':') {
            Some((kind, target)) => format!("{kind}:{}", redact(target)),
            None => spec.to_string(),
        }
    }

    /// The spec as the user should see it (passwords hidden).
    pub fn display(&self) -> String {
        match self {
            OutputSpec::Parquet(d) => format!("parquet:{}", d.display()),
            OutputSpec::Jsonl(d) => format!("jsonl:{}", d.display()),
            OutputSpec::Csv(d) => format!("csv:{}", d.display()),
            OutputSpec::Postgres(url) => format!("postgres:{}", redact(url)),
            OutputSpec::WebSocket => "websocket".into(),
        }
    }
}

/// Hides the password of a connection URL.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Checks a list of specs: each parses, none twice, at least one.
pub(super) fn check(specs: &[String]) -> Result<(), String> {
    if specs.is_empty() {
        return Err("no output: give at least one, e.g. parquet:./data".into());
    }
    let mut seen = std::collections::HashSet::new();
    for spec in specs {
        let parsed = OutputSpec::parse(spec)
            .map_err(|why| format!("{:?}: {why}", OutputSpec::shown(spec)))?;
        if !seen.insert(parsed.clone()) {
            return Err(format!(
                "{:?} is given twice: each output must be named once",
                parsed.display()
            ));
        }
    }
    Ok(())
}
