//! Durable per-output state in `--state-dir`: the cursor (last ledger
//! fully written) and, while a file commit is under way, its intent (the
//! temporary files and their final names). Writing the intent before the
//! renames and the cursor after them makes a commit of several files
//! atomic across a crash: recovery rolls the renames forward.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A pending multi-file commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Intent {
    /// The cursor after the commit.
    pub end: u32,
    /// (temporary path, final path) of each file.
    pub files: Vec<(PathBuf, PathBuf)>,
}

/// What the state file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// Last ledger fully and durably written.
    pub ledger: Option<u32>,
    /// A commit under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
}

/// The state file of one output.
pub(crate) struct CursorFile {
    path: PathBuf,
}

/// A file-system-safe name for an output (`parquet:./data` →
/// `parquet-data`).
pub fn file_name(output: &str) -> String {
    let mut name: String = output
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    name.trim_matches('-').to_string()
}

impl CursorFile {
    /// The state file of `output` under `state_dir`.
    pub fn new(state_dir: &Path, output: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", state_dir.display()))?;
        Ok(CursorFile {
            path: state_dir.join(format!("cursor-{}.json", file_name(output))),
        })
    }

    /// Reads the state (empty when there is none yet).
    pub fn load(&self) -> anyhow::Result<State> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("cursor file {} is corrupt: {e}", self.path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", self.path.display())),
        }
    }

    /// Replaces the state atomically and durably.
    pub(crate) fn store(&self, state: &State) -> anyhow::Result<()> {
        crate::durable::write_atomic(&self.path, &serde_json::to_vec(state)?)
    }
}
