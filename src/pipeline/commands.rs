//! `stellarflow pipeline status|health|stop|logs`: inspect or control a
//! running pipeline from another terminal through its state directory.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use super::state::{alive, now, PipelineState, StateDir};
use crate::config::Role;
use crate::security::{ClientAccess, Token};

const ROLES: [&str; 4] = ["controlplane", "source", "processor", "sink"];

async fn health(client: &reqwest::Client, http: &str) -> bool {
    client
        .get(format!("http://{http}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// The role's current ledger: the last one served (source, processor) or
/// received (sink), from `/metrics` or the sink's `/api/progress`.
async fn current_ledger(client: &reqwest::Client, role: &str, http: &str) -> Option<u64> {
    let gauge = match role {
        "source" => "stellarflow_source_current_ledger",
        "processor" => "stellarflow_processor_current_ledger",
        "sink" => {
            let progress = super::progress::snapshot(client, http).await?;
            return progress.ledger.or(progress.cursor).map(u64::from);
        }
        _ => return None,
    };
    let text = client
        .get(format!("http://{http}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(gauge))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// An HTTP client for the children's admin surfaces. It sends the bearer
/// token that guards them: `STELLARFLOW_AUTH_TOKEN`, the file named by
/// `STELLARFLOW_AUTH_TOKEN_FILE`, or the one the pipeline generated in its
/// state dir.
fn client(state_dir: &Path) -> anyhow::Result<reqwest::Client> {
    let from_file = |path: &Path| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
            .filter(|t| !t.is_empty())
    };
    let token = crate::config::process_env("STELLARFLOW_AUTH_TOKEN")
        .or_else(|| {
            crate::config::process_env("STELLARFLOW_AUTH_TOKEN_FILE")
                .and_then(|p| from_file(Path::new(&p)))
        })
        .or_else(|| from_file(&state_dir.join("security").join("token")));
    let access = ClientAccess::new(token.as_deref().map(Token::new), None)?;
    crate::security::http_client(&access, Duration::from_secs(2))
}

fn duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn load(state_dir: &Path) -> anyhow::Result<PipelineState> {
    StateDir::new(state_dir).load()
}

/// `pipeline status`: true while the pipeline runs (the exit code of a
/// stopped pipeline's status is 1, as with `systemctl status`).
pub async fn status(state_dir: &Path) -> anyhow::Result<bool> {
    let state = load(state_dir)?;
    let running = !state.stopped && alive(state.pid);
    println!(
        "pipeline pid {} {} (started {} ago){}",
        state.pid,
        if running { "running" } else { "not running" },
        duration(now().saturating_sub(state.started_at)),
        match (state.start, state.end) {
            (Some(s), Some(e)) => format!(", ledgers {s}..={e}"),
            (Some(s), None) => format!(", ledgers {s}.. (live)"),
            _ => String::new(),
        }
    );
    let client = client(state_dir)?;
    println!(
        "{:<13} {:>8} {:>9} {:>9} {:>10} {:>14}",
        "role", "pid", "uptime", "restarts", "health", "ledger"
    );
    for role in ROLES {
        let Some(child) = state.children.get(role) else {
            continue;
        };
        let up = running && alive(child.pid);
        let healthy = up && health(&client, &child.http_addr).await;
        let ledger = if up {
            current_ledger(&client, role, &child.http_addr).await
        } else {
            None
        };
        println!(
            "{:<13} {:>8} {:>9} {:>9} {:>10} {:>14}",
            role,
            child.pid,
            if up {
                duration(now().saturating_sub(child.started_at))
            } else {
                "-".into()
            },
            child.restarts,
            if healthy {
                "healthy"
            } else if up {
                "unhealthy"
            } else {
                "stopped"
            },
            ledger.map(|l| l.to_string()).unwrap_or_else(|| "-".into())
        );
    }
    Ok(running)
}

/// `pipeline health`: true only if the supervisor and every child are up
/// and healthy.
pub(crate) async fn health_check(state_dir: &Path) -> anyhow::Result<bool> {
    let state = load(state_dir)?;
    if state.stopped || !alive(state.pid) {
        println!("unhealthy: the pipeline is not running");
        return Ok(false);
    }
    let client = client(state_dir)?;
    // The data path is whole only when every child the run starts is up:
    // during start-up the later ones are "not started".
    let expected: Vec<&str> = if state.roles.is_empty() {
        ROLES
            .into_iter()
            .filter(|r| state.children.contains_key(*r))
            .collect()
    } else {
        state.roles.iter().map(String::as_str).collect()
    };
    let mut all = true;
    for role in expected {
        let verdict = match state.children.get(role) {
            None => "not started",
            Some(child) if alive(child.pid) && health(&client, &child.http_addr).await => "healthy",
            Some(_) => "unhealthy",
        };
        println!("{role}: {verdict}");
        all &= verdict == "healthy";
    }
    Ok(all)
}

/// `pipeline stop`: SIGTERM to the supervisor, then wait for it.
pub async fn stop(state_dir: &Path) -> anyhow::Result<bool> {
    let state = load(state_dir)?;
    if state.stopped || !alive(state.pid) {
        println!("the pipeline is not running");
        return Ok(true);
    }
    super::child::signal(state.pid, nix::sys::signal::Signal::SIGTERM);
    println!(
        "sent SIGTERM to the pipeline (pid {}); waiting for it to stop",
        state.pid
    );
    for _ in 0..600 {
        if !alive(state.pid) {
            println!("stopped");
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "the pipeline (pid {}) is still running after 60 s",
        state.pid
    );
    Ok(false)
}

/// `pipeline logs [role] [--follow]`.
pub async fn logs(state_dir: &Path, role: Option<&str>, follow: bool) -> anyhow::Result<bool> {
    let dir = StateDir::new(state_dir);
    let roles: Vec<&str> = match role {
        Some(r) => {
            let parsed = Role::parse(r)
                .filter(|r| *r != Role::Pipeline)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown role {r:?}: expected controlplane, source, processor or sink"
                    )
                })?;
            vec![ROLES
                .into_iter()
                .find(|n| *n == parsed.section())
                .unwrap_or("source")]
        }
        None => ROLES.to_vec(),
    };
    let mut offsets = vec![0u64; roles.len()];
    let prefix = roles.len() > 1;
    loop {
        let mut out = std::io::stdout().lock();
        for (i, role) in roles.iter().enumerate() {
            let Ok(mut file) = std::fs::File::open(dir.log(role)) else {
                continue;
            };
            file.seek(SeekFrom::Start(offsets[i]))?;
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            offsets[i] += text.len() as u64;
            for line in text.lines() {
                if prefix {
                    writeln!(out, "{}", super::state::prefixed(role, line))?;
                } else {
                    writeln!(out, "{line}")?;
                }
            }
        }
        out.flush()?;
        drop(out);
        if !follow {
            return Ok(true);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = crate::runtime::shutdown_signal() => return Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// During start-up the later children do not exist yet; the pipeline
    /// is not healthy until every child the run starts is.
    #[tokio::test]
    async fn health_waits_for_children_not_started_yet() {
        crate::runtime::install_tls_provider();
        let dir = tempfile::tempdir().unwrap();
        let state = PipelineState {
            pid: std::process::id(),
            roles: vec!["source".into(), "sink".into()],
            ..Default::default()
        };
        StateDir::new(dir.path()).store(&state).unwrap();
        assert!(!health_check(dir.path()).await.unwrap());
    }
}
