//! One child process of the pipeline: started from this same executable,
//! its output lines prefixed with its role on the pipeline's stderr and
//! appended to its log file(s), its exit reported, and stopped with
//! SIGTERM then SIGKILL after a grace period.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::plan::ChildSpec;
use super::progress::Printer;
use crate::config::Role;

/// A child's exit, reported to the supervisor.
#[derive(Debug)]
pub(crate) struct Exit {
    /// Which role.
    pub role: Role,
    /// The generation (restart count) that exited.
    pub generation: u32,
    /// How it ended.
    pub status: std::io::Result<ExitStatus>,
}

/// A running child.
pub struct Running {
    /// Its pid.
    pub pid: u32,
    /// When it started.
    pub started: Instant,
    kill: mpsc::Sender<()>,
}

/// Where a child's lines go.
#[derive(Clone)]
pub(crate) struct LogSink {
    /// The pipeline's stderr (aware of the progress bar).
    pub printer: Arc<Printer>,
    /// Log files to append to.
    pub files: Vec<PathBuf>,
    /// `json` or `text`.
    pub json: bool,
}

fn prefix(role: Role, line: &str, json: bool) -> String {
    if json {
        if let Ok(serde_json::Value::Object(mut object)) =
            serde_json::from_str::<serde_json::Value>(line)
        {
            object.insert("role".into(), serde_json::Value::String(role.to_string()));
            return serde_json::Value::Object(object).to_string();
        }
        return serde_json::json!({"role": role.to_string(), "message": line}).to_string();
    }
    super::state::prefixed(&role.to_string(), line)
}

async fn pump(role: Role, stream: impl tokio::io::AsyncRead + Unpin, sink: LogSink) {
    let mut files = Vec::new();
    for path in &sink.files {
        if let Some(dir) = path.parent() {
            let _ = tokio::fs::create_dir_all(dir).await;
        }
        if let Ok(file) = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
        {
            files.push(file);
        }
    }
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        sink.printer.line(&prefix(role, &line, sink.json));
        for file in files.iter_mut() {
            let _ = file.write_all(format!("{line}\n").as_bytes()).await;
        }
    }
}

/// Starts `spec`; its exit is sent to `exits` tagged with `generation`.
pub fn spawn(
    spec: &ChildSpec,
    generation: u32,
    logs: LogSink,
    exits: mpsc::Sender<Exit>,
) -> anyhow::Result<Running> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .args(spec.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in super::plan::env_read_by_the_pipeline() {
        command.env_remove(name);
    }
    // Children die with the supervisor even if it is killed outright.
    // SAFETY: `pre_exec` is unsafe because the closure runs in the forked
    // child; prctl(2) is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)
        });
    }
    let mut child: Child = command
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", spec.role))?;
    let pid = child.id().unwrap_or(0);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pump(spec.role, out, logs.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pump(spec.role, err, logs));
    }
    let (kill, mut killed) = mpsc::channel::<()>(1);
    let role = spec.role;
    tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            _ = killed.recv() => {
                let _ = child.start_kill();
                child.wait().await
            }
        };
        let _ = exits
            .send(Exit {
                role,
                generation,
                status,
            })
            .await;
    });
    Ok(Running {
        pid,
        started: Instant::now(),
        kill,
    })
}

impl Running {
    /// Sends SIGTERM.
    pub(crate) fn terminate(&self) {
        signal(self.pid, Signal::SIGTERM);
    }

    /// Sends SIGKILL.
    pub fn kill(&self) {
        let _ = self.kill.try_send(());
    }
}

/// Sends `signal` to `pid` (a process we started; nothing when it is gone).
pub fn signal(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        if pid > 0 {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
        }
    }
}

/// Waits until `http://addr/health` answers 200, the child exits, or
/// `timeout` passes.
pub async fn wait_healthy(
    addr: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> bool,
) -> Result<(), String> {
    let url = format!("http://{addr}/health");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        if !alive() {
            return Err("exited during start-up".into());
        }
        if client
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "did not become healthy: {url} did not answer 200 within {timeout:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
