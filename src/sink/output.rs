//! What every output does, and how `--output KIND:TARGET` specs are parsed.

use std::path::PathBuf;

use arrow::array::RecordBatch;

use crate::config::ConfigError;
use crate::flight::BatchMeta;

/// One destination of events. The consumer calls `write` with whole-ledger
/// ranges in order and `commit` to make them durable; `cursor` is the last
/// ledger durably written, so a restart resumes right after it.
pub trait Output: Send {
    /// `kind:target`, for logs and errors.
    fn describe(&self) -> String;
    /// Last ledger durably written; `None` for outputs without a cursor.
    fn cursor(&self) -> Option<u32>;
    /// Takes the rows of ledgers `meta.first_ledger..=meta.last_ledger`.
    fn write(&mut self, batch: &RecordBatch, meta: BatchMeta) -> anyhow::Result<()>;
    /// Whether rotation limits ask for a commit now.
    fn wants_commit(&self) -> bool;
    /// Whether anything was written since the last commit.
    fn pending(&self) -> bool;
    /// Makes everything written durable and moves the cursor.
    fn commit(&mut self) -> anyhow::Result<()>;
    /// (files, bytes) finalised so far, for outputs that write files.
    fn files_written(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// A parsed `--output`.
#[derive(Debug, Clone, PartialEq)]
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
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| {
            ConfigError(format!(
                "invalid value for --output: {spec:?} ({why}; expected parquet:DIR, jsonl:DIR, csv:DIR, postgres:URL or websocket)"
            ))
        };
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
                if !(target.starts_with("postgres://")
                    || target.starts_with("postgresql://")
                    || target.contains('='))
                {
                    return Err(bad(
                        "the PostgreSQL target must be a URL like postgres://user@host:5432/db",
                    ));
                }
                Ok(OutputSpec::Postgres(target.to_string()))
            }
            _ => Err(bad(&format!("unknown output kind {kind:?}"))),
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
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
