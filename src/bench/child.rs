//! Child processes of this executable for benchmarks: start with arguments,
//! wait until `/health` answers, stop with SIGTERM on drop.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A role running as a child process.
pub(crate) struct ChildRole {
    child: Child,
    name: String,
}

impl ChildRole {
    /// Starts `stellarflow <args>` and waits until `http://<http_addr>/health`
    /// answers 200 (at most `timeout`).
    pub async fn start(
        name: &str,
        args: &[String],
        http_addr: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        crate::runtime::install_tls_provider();
        let exe = std::env::current_exe()?;
        let child = Command::new(exe)
            .args(args)
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {name}: {e}"))?;
        let mut role = ChildRole {
            child,
            name: name.to_string(),
        };
        let url = format!("http://{http_addr}/health");
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = role.child.try_wait() {
                anyhow::bail!("{name} exited during start-up with {status}");
            }
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(role);
            }
            if started.elapsed() > timeout {
                anyhow::bail!("{name} did not answer {url} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The child's peak resident memory (VmHWM), while it runs.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        peak_rss_of(self.child.id()?)
    }

    /// CPU seconds (user + system) the child has used so far.
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(self.child.id()?)
    }

    /// Sends SIGTERM and waits for the child to exit.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            tracing::warn!(role = %self.name, "did not stop on SIGTERM; killing");
            let _ = self.child.kill().await;
        }
    }
}

/// A running process's peak resident memory (VmHWM), in bytes.
pub(crate) fn peak_rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// A free loopback address for a child to listen on.
pub(crate) fn free_addr() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

/// CPU seconds (user + system) of a process, from /proc.
pub(crate) fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
