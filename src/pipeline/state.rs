//! The pipeline's state directory: `pipeline.json` (the supervisor's pid
//! and each child's pid, addresses, start time and restarts), pid files,
//! and `logs/<role>.log`. It is what `pipeline status|health|stop|logs`
//! read from another terminal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One child as recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChildState {
    /// Process id.
    pub pid: u32,
    /// HTTP address (`/health`, `/metrics`).
    pub http_addr: String,
    /// Flight (or gRPC) address.
    pub data_addr: String,
    /// Unix seconds of the current process's start.
    pub started_at: u64,
    /// Restarts so far.
    pub restarts: u32,
}

/// `pipeline.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PipelineState {
    /// The supervisor's pid.
    pub pid: u32,
    /// Unix seconds of the supervisor's start.
    pub started_at: u64,
    /// First ledger, if bounded or given.
    pub start: Option<u32>,
    /// Last ledger of a bounded run.
    pub end: Option<u32>,
    /// Children by role name.
    pub children: BTreeMap<String, ChildState>,
    /// Every child the run will start, in start order: `pipeline health`
    /// is not healthy while one of them has not started yet.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Set when the supervisor has exited.
    #[serde(default)]
    pub stopped: bool,
}

/// Now, in unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether a process is alive. A zombie (exited, not yet reaped by its
/// parent) is not: `pipeline stop` must not wait for a parent's `wait`.
pub(crate) fn alive(pid: u32) -> bool {
    // kill(pid, 0) only checks that the pid exists.
    let exists = i32::try_from(pid).is_ok_and(|pid| {
        pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
    });
    exists && !zombie(pid)
}

/// nix cannot tell a zombie that is not our child (waitpid only reaps our
/// own), so the kernel's process state is read from /proc.
fn zombie(pid: u32) -> bool {
    // The state letter follows the command name, which may hold spaces or
    // parentheses, so split at the last ") ".
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(") ")?.1.starts_with('Z')))
        .unwrap_or(false)
}

/// A log line as the pipeline shows it: `role         | line`.
pub(crate) fn prefixed(role: &str, line: &str) -> String {
    format!("{role:<12} | {line}")
}

/// Paths inside a state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state directory at `root`.
    pub fn new(root: &Path) -> Self {
        StateDir {
            root: root.to_path_buf(),
        }
    }

    /// `pipeline.json`.
    pub fn file(&self) -> PathBuf {
        self.root.join("pipeline.json")
    }

    /// The log file of a role.
    pub fn log(&self, role: &str) -> PathBuf {
        self.root.join("logs").join(format!("{role}.log"))
    }

    /// The pid file of a role (or `pipeline`).
    pub(crate) fn pid_file(&self, name: &str) -> PathBuf {
        self.root.join("pids").join(format!("{name}.pid"))
    }

    /// Reads `pipeline.json`.
    pub fn load(&self) -> anyhow::Result<PipelineState> {
        let bytes = std::fs::read(self.file()).map_err(|e| {
            anyhow::anyhow!("no pipeline state in {} ({e}): is a pipeline running from this directory? (--state-dir)", self.root.display())
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{} is corrupt: {e}", self.file().display()))
    }

    /// Writes `pipeline.json` atomically, and the pid files (removed once
    /// the pipeline has stopped, so no stale pid is left to signal).
    pub(crate) fn store(&self, state: &PipelineState) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.root.join("pids"))?;
        crate::durable::write_atomic(&self.file(), &serde_json::to_vec_pretty(state)?)?;
        if state.stopped {
            std::fs::remove_dir_all(self.root.join("pids"))?;
            return Ok(());
        }
        std::fs::write(self.pid_file("pipeline"), state.pid.to_string())?;
        for (role, child) in &state.children {
            std::fs::write(self.pid_file(role), child.pid.to_string())?;
        }
        Ok(())
    }

    /// The last `n` lines of a role's log.
    pub(crate) fn tail(&self, role: &str, n: usize) -> String {
        let text = std::fs::read_to_string(self.log(role)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}
