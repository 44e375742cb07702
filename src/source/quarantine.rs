//! `--on-error skip`: each skipped ledger is appended to
//! `<state-dir>/quarantine.jsonl` with the object and the reason, and
//! counted, so nothing is skipped silently.

use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::error::SourceError;

/// The quarantine file.
pub(crate) struct Quarantine {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Quarantine {
    /// Opens (appending) `<dir>/quarantine.jsonl`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", dir.display()))?;
        let path = dir.join("quarantine.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        Ok(Quarantine {
            path,
            file: Mutex::new(file),
        })
    }

    /// Where skipped ledgers are recorded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the ledgers `error` makes unreadable; returns how many.
    pub(crate) fn record(&self, error: &SourceError) -> u64 {
        let Some((object, first, last)) = error.skippable() else {
            return 0;
        };
        let at = chrono::Utc::now().to_rfc3339();
        let mut file = self.file.lock();
        for ledger in first..=last {
            let line = serde_json::json!({
                "ledger": ledger, "object": object, "error": error.to_string(), "at": at,
            });
            if let Err(e) = writeln!(file, "{line}") {
                tracing::error!(error = %e, path = %self.path.display(), "cannot write the quarantine file");
            }
        }
        let _ = file.flush();
        tracing::warn!(%error, first, last, path = %self.path.display(), "skipped ledgers (--on-error skip)");
        u64::from(last - first + 1)
    }
}
