//! The supervisor: starts the children one after another (each only once
//! the previous answers `/health` and, with a control plane, is registered
//! and healthy), restarts a child that exits unexpectedly with exponential
//! backoff and a limit per time window, stops everything in reverse order
//! on SIGINT/SIGTERM (SIGKILL after the grace period; a second SIGINT stops
//! at once), and ends a bounded run with a summary once the sink is done.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::child::{self, Exit, LogSink};
use super::plan::{ChildSpec, Plan};
use super::progress::{self, Printer, Progress};
use super::state::{alive, now, ChildState, PipelineState, StateDir};
use crate::config::{Config, LogFormat, Role};
use crate::flowctl::{registry_client, FLIGHT_ENDPOINT_KEY};
use crate::listen::Listening;
use crate::retry::Backoff;
use crate::telemetry::RunSummary;

/// Waits before restarting a child that keeps exiting (reset once it has
/// run longer than the restart window).
const RESTART_BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));

struct Slot {
    spec: ChildSpec,
    running: Option<child::Running>,
    generation: u32,
    restarts: u32,
    recent: VecDeque<Instant>,
    consecutive: u32,
}

/// How a run ended.
pub enum Outcome {
    /// A bounded run completed.
    Finished,
    /// Stopped by a signal; `clean` when every child stopped in time.
    Stopped {
        /// Whether every child exited by itself within the grace period.
        clean: bool,
    },
}

struct Supervisor {
    slots: Vec<Slot>,
    exits: mpsc::Receiver<Exit>,
    /// Exit reports read early (while waiting for another child) and not yet handled.
    pending: VecDeque<Exit>,
    exits_tx: mpsc::Sender<Exit>,
    logs: Box<dyn Fn(Role) -> LogSink + Send>,
    state: StateDir,
    record: PipelineState,
    /// Our own control plane's gRPC endpoint, once it has bound.
    controlplane: Option<String>,
    config: Config,
}

impl Supervisor {
    fn slot(&mut self, role: Role) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.spec.role == role)
    }

    fn save(&mut self) {
        for slot in &self.slots {
            if let Some(running) = &slot.running {
                self.record.children.insert(
                    slot.spec.role.to_string(),
                    ChildState {
                        pid: running.pid,
                        http_addr: slot.spec.http_addr.clone(),
                        data_addr: slot.spec.data_addr.clone(),
                        started_at: now(),
                        restarts: slot.restarts,
                    },
                );
            }
        }
        if let Err(e) = self.state.store(&self.record) {
            tracing::warn!(error = %e, "cannot write the pipeline state");
        }
    }

    fn spawn(&mut self, role: Role) -> anyhow::Result<()> {
        let logs = (self.logs)(role);
        let exits = self.exits_tx.clone();
        let slot = self
            .slot(role)
            .ok_or_else(|| anyhow::anyhow!("no child {role}"))?;
        slot.generation += 1;
        Listening::clear(&slot.spec.state_dir);
        slot.spec.write_config()?;
        let running = child::spawn(&slot.spec, slot.generation, logs, exits)?;
        slot.running = Some(running);
        Ok(())
    }

    /// Waits for `role`'s report of the addresses it bound (it may have
    /// been given port 0), and records them.
    async fn wait_listening(&mut self, role: Role, pid: u32) -> anyhow::Result<()> {
        let timeout = self.config.settings.pipeline.start_timeout;
        let deadline = Instant::now() + timeout;
        let dir = self
            .slot(role)
            .map(|s| s.spec.state_dir.clone())
            .ok_or_else(|| anyhow::anyhow!("no child {role}"))?;
        loop {
            match Listening::read(&dir).filter(|report| report.pid() == pid) {
                Some(Listening::Bound {
                    data_addr,
                    http_addr,
                    ..
                }) => {
                    if let Some(slot) = self.slot(role) {
                        slot.spec.bound(data_addr, http_addr);
                    }
                    return Ok(());
                }
                Some(Listening::BindFailed {
                    addr,
                    in_use,
                    error,
                    ..
                }) => {
                    let hint = if in_use {
                        format!(
                            "\nhint: another process holds {addr}; stop it, or give {role} other addresses \
                             in a --config file ([{}] {}/http_addr, port 0 for any free port) or with its \
                             environment variables",
                            role.section(),
                            if role == Role::Controlplane { "grpc_addr" } else { "flight_addr" }
                        )
                    } else {
                        String::new()
                    };
                    anyhow::bail!("{role} cannot listen on {addr}: {error}{hint}");
                }
                None => {}
            }
            if self.exit_status(role).is_some() || !alive(pid) {
                anyhow::bail!(
                    "{role} exited before it listened\n--- last lines of {} ---\n{}",
                    self.state.log(&role.to_string()).display(),
                    self.state.tail(&role.to_string(), 15)
                );
            }
            if Instant::now() > deadline {
                anyhow::bail!("{role} did not bind its ports within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `role` is listening, healthy, and registered with our
    /// control plane.
    async fn wait_ready(&mut self, role: Role) -> anyhow::Result<()> {
        let timeout = self.config.settings.pipeline.start_timeout;
        let pid = self
            .slot(role)
            .and_then(|s| s.running.as_ref())
            .map(|r| r.pid)
            .unwrap_or(0);
        let started = now();
        self.wait_listening(role, pid).await?;
        self.save();
        let slot = self
            .slot(role)
            .ok_or_else(|| anyhow::anyhow!("no child {role}"))?;
        let (http, data) = (slot.spec.http_addr.clone(), slot.spec.data_addr.clone());
        if let Err(why) = child::wait_healthy(&http, timeout, || alive(pid)).await {
            // A bounded sink may finish its range before we look; give the
            // exit report a moment to arrive.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if role == Role::Sink && self.exit_status(role) == Some(true) {
                return Ok(());
            }
            anyhow::bail!(
                "{role} {why}\n--- last lines of {} ---\n{}",
                self.state.log(&role.to_string()).display(),
                self.state.tail(&role.to_string(), 15)
            );
        }
        let (Some(endpoint), false) = (self.controlplane.clone(), role == Role::Controlplane)
        else {
            return Ok(());
        };
        let mut registry = registry_client(&self.config.settings.flowctl, &endpoint)?;
        let deadline = Instant::now() + timeout;
        let port = |addr: &str| addr.rsplit(':').next().map(str::to_string);
        loop {
            let records = registry
                .list_service_records(())
                .await
                .map(|reply| reply.into_inner().services)
                .unwrap_or_default();
            let registered = records.iter().any(|record| {
                let (Some(info), Some(status)) = (&record.info, &record.status) else {
                    return false;
                };
                let registered_at = record
                    .registered_at
                    .and_then(|t| std::time::SystemTime::try_from(t).ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                info.component_id == role.component_id()
                    && status.is_healthy
                    // The advertised host may differ from the bind host
                    // (0.0.0.0, advertise_host); the port does not.
                    && info.metadata.get(FLIGHT_ENDPOINT_KEY).and_then(|e| port(e)) == port(&data)
                    && registered_at + 1 >= started
            });
            if registered {
                return Ok(());
            }
            match self.exit_status(role) {
                Some(true) if role == Role::Sink => return Ok(()),
                Some(_) => anyhow::bail!(
                    "{role} exited while registering\n{}",
                    self.state.tail(&role.to_string(), 15)
                ),
                None => {}
            }
            if Instant::now() > deadline {
                anyhow::bail!("{role} is healthy but did not register with the control plane within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Gives the children after `role` the addresses it bound: the control
    /// plane's endpoint to everyone, the source's to the processor, the
    /// processor's to the sink.
    fn connect(&mut self, role: Role) {
        let Some(spec) = self.slot(role).map(|s| s.spec.clone()) else {
            return;
        };
        match role {
            Role::Controlplane => {
                self.controlplane = Some(spec.data_addr.clone());
                for slot in self.slots.iter_mut().filter(|s| s.spec.role != role) {
                    slot.spec.set("flowctl.endpoint", spec.data_addr.clone());
                }
            }
            Role::Source => {
                if let Some(slot) = self.slot(Role::Processor) {
                    slot.spec.set("processor.source_endpoint", spec.data_addr);
                }
            }
            Role::Processor => {
                if let Some(slot) = self.slot(Role::Sink) {
                    slot.spec.set("sink.processor_endpoint", spec.data_addr);
                }
            }
            Role::Sink | Role::Pipeline => {}
        }
    }

    /// The address of `role` as it reported it.
    fn addrs(&self, role: Role) -> (String, String) {
        self.slots
            .iter()
            .find(|s| s.spec.role == role)
            .map(|s| (s.spec.data_addr.clone(), s.spec.http_addr.clone()))
            .unwrap_or_default()
    }

    /// The next exit report, the ones read early first.
    async fn next_exit(&mut self) -> Option<Exit> {
        if let Some(exit) = self.pending.pop_front() {
            return Some(exit);
        }
        self.exits.recv().await
    }

    /// How `role`'s current process ended, if it has: `Some(true)` for
    /// success. The report stays queued so the main loop still handles it
    /// (a bounded sink's exit ends the run).
    fn exit_status(&mut self, role: Role) -> Option<bool> {
        while let Ok(exit) = self.exits.try_recv() {
            self.pending.push_back(exit);
        }
        let generation = self
            .slots
            .iter()
            .find(|s| s.spec.role == role)
            .map(|s| s.generation)?;
        self.pending
            .iter()
            .find(|exit| exit.role == role && exit.generation == generation)
            .map(|exit| exit.status.as_ref().is_ok_and(|s| s.success()))
    }

    /// Stops every running child in reverse start order.
    async fn stop_all(&mut self, interrupts: &mut tokio::signal::unix::Signal) -> bool {
        let grace = self.config.settings.pipeline.shutdown_timeout;
        // Children that already exited (their reports are queued) need no stopping.
        while let Ok(exit) = self.exits.try_recv() {
            self.pending.push_back(exit);
        }
        for exit in std::mem::take(&mut self.pending) {
            if let Some(slot) = self
                .slot(exit.role)
                .filter(|s| s.generation == exit.generation)
            {
                slot.running = None;
            }
        }
        let mut clean = true;
        let order = [
            Role::Source,
            Role::Processor,
            Role::Sink,
            Role::Controlplane,
        ];
        for role in order {
            let Some(slot) = self.slot(role) else {
                continue;
            };
            let Some(running) = &slot.running else {
                continue;
            };
            tracing::info!(%role, "stopping");
            running.terminate();
            let deadline = tokio::time::Instant::now() + grace;
            loop {
                tokio::select! {
                    exit = self.next_exit() => {
                        let Some(exit) = exit else { break };
                        let generation = self.slot(exit.role).map(|s| s.generation).unwrap_or(0);
                        if exit.generation != generation {
                            continue;
                        }
                        if !exit.status.as_ref().is_ok_and(|s| s.success()) {
                            tracing::warn!(role = %exit.role, status = ?exit.status, "exited with an error while stopping");
                            clean = false;
                        }
                        if let Some(slot) = self.slot(exit.role) {
                            slot.running = None;
                        }
                        if exit.role == role {
                            break;
                        }
                    }
                    _ = tokio::time::sleep_until(deadline) => {
                        tracing::warn!(%role, ?grace, "did not stop within the grace period; killing it");
                        if let Some(running) = self.slot(role).and_then(|s| s.running.as_ref()) {
                            running.kill();
                        }
                        clean = false;
                        break;
                    }
                    _ = interrupts.recv() => {
                        tracing::warn!("second interrupt: killing every child now");
                        for slot in &self.slots {
                            if let Some(running) = &slot.running {
                                running.kill();
                            }
                        }
                        return false;
                    }
                }
            }
        }
        // Reap what was killed.
        let reap = tokio::time::Instant::now() + Duration::from_secs(3);
        while self.slots.iter().any(|s| s.running.is_some()) {
            match tokio::time::timeout_at(reap, self.next_exit()).await {
                Ok(Some(exit)) => {
                    if let Some(slot) = self.slot(exit.role) {
                        slot.running = None;
                    }
                }
                _ => break,
            }
        }
        clean
    }

    /// Restarts a crashed child, or fails past the restart limit.
    async fn restart(&mut self, role: Role, status: String) -> anyhow::Result<()> {
        let limit = self.config.settings.pipeline.restart_limit as usize;
        let window = self.config.settings.pipeline.restart_window;
        let log = self.state.tail(&role.to_string(), 15);
        let slot = self
            .slot(role)
            .ok_or_else(|| anyhow::anyhow!("no child {role}"))?;
        let uptime = slot
            .running
            .as_ref()
            .map(|r| r.started.elapsed())
            .unwrap_or_default();
        slot.running = None;
        if uptime > window {
            slot.consecutive = 0;
        }
        slot.consecutive += 1;
        let now = Instant::now();
        slot.recent.retain(|t| now.duration_since(*t) < window);
        slot.recent.push_back(now);
        if slot.recent.len() > limit {
            anyhow::bail!("{role} exited {} times within {window:?} ({status}); giving up\n--- last lines ---\n{log}", slot.recent.len());
        }
        let delay = RESTART_BACKOFF.delay(slot.consecutive - 1);
        slot.restarts += 1;
        tracing::warn!(%role, %status, restart = slot.restarts, ?delay, "child exited unexpectedly; restarting");
        tokio::time::sleep(delay).await;
        self.spawn(role)?;
        self.save();
        Ok(())
    }
}

/// Runs the pipeline described by `plan`.
pub async fn run(plan: Plan, config: Config) -> anyhow::Result<Outcome> {
    let state = StateDir::new(&plan.state_dir);
    if let Ok(previous) = state.load() {
        if !previous.stopped && alive(previous.pid) && previous.pid != std::process::id() {
            anyhow::bail!(
                "a pipeline is already running from {} (pid {}): `stellarflow pipeline stop --state-dir {}` first",
                plan.state_dir.display(),
                previous.pid,
                plan.state_dir.display()
            );
        }
    }
    // The state dir's logs are this run's; --log-dir files keep history.
    let _ = std::fs::remove_dir_all(plan.state_dir.join("logs"));
    let printer = Arc::new(Printer::default());
    let log_dir = config.settings.pipeline.log_dir.clone();
    let json = config.settings.log.format == LogFormat::Json;
    let (logs_state, logs_printer) = (state.clone(), printer.clone());
    let logs = Box::new(move |role: Role| {
        let mut files = vec![logs_state.log(&role.to_string())];
        if let Some(dir) = &log_dir {
            files.push(std::path::Path::new(dir).join(format!("{role}.log")));
        }
        LogSink {
            printer: logs_printer.clone(),
            files,
            json,
        }
    });
    let (exits_tx, exits) = mpsc::channel(16);
    let mut supervisor = Supervisor {
        slots: plan
            .children
            .iter()
            .map(|spec| Slot {
                spec: spec.clone(),
                running: None,
                generation: 0,
                restarts: 0,
                recent: VecDeque::new(),
                consecutive: 0,
            })
            .collect(),
        exits,
        pending: VecDeque::new(),
        exits_tx,
        logs,
        state,
        record: PipelineState {
            pid: std::process::id(),
            started_at: now(),
            start: plan.start,
            end: plan.end,
            ..Default::default()
        },
        controlplane: None,
        config: config.clone(),
    };
    let mut interrupts = signal(SignalKind::interrupt())?;
    let mut terminates = signal(SignalKind::terminate())?;
    let began = Instant::now();

    for spec in &plan.children {
        let role = spec.role;
        tracing::info!(%role, addr = %spec.data_addr, http = %spec.http_addr, "starting");
        let started = async {
            supervisor.spawn(role)?;
            supervisor.save();
            supervisor.wait_ready(role).await?;
            supervisor.connect(role);
            anyhow::Ok(())
        };
        // A stop asked for during start-up is a stop, not a failure: the
        // exit code then says only whether the children stopped cleanly.
        let (failure, signalled) = tokio::select! {
            result = started => (result.err(), None),
            _ = interrupts.recv() => (None, Some("SIGINT")),
            _ = terminates.recv() => (None, Some("SIGTERM")),
        };
        if failure.is_some() || signalled.is_some() {
            if let Some(signal) = signalled {
                tracing::info!(%role, "{signal} while starting {role}; stopping");
            }
            let clean = supervisor.stop_all(&mut interrupts).await;
            supervisor.record.stopped = true;
            supervisor.save();
            return match failure {
                Some(error) => Err(error.context(format!("cannot start the pipeline's {role}"))),
                None => Ok(Outcome::Stopped { clean }),
            };
        }
        let (addr, http) = supervisor.addrs(role);
        tracing::info!(%role, %addr, %http, "ready");
    }

    let mut progress = Progress::new(
        plan.start,
        plan.end,
        config.settings.monitoring.interval,
        &printer,
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let (_, sink_http) = supervisor.addrs(Role::Sink);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let (source_addr, _) = supervisor.addrs(Role::Source);
    let tip = plan
        .end
        .is_none()
        .then(|| progress::follow_tip(source_addr, config.settings.monitoring.interval));
    let outcome = loop {
        tokio::select! {
            exit = supervisor.next_exit() => {
                let Some(exit) = exit else { break Outcome::Stopped { clean: false } };
                let current = supervisor.slot(exit.role).map(|s| s.generation).unwrap_or(0);
                if exit.generation != current {
                    continue;
                }
                let success = exit.status.as_ref().is_ok_and(|s| s.success());
                if exit.role == Role::Sink && success && plan.end.is_some() {
                    if let Some(slot) = supervisor.slot(Role::Sink) {
                        slot.running = None;
                    }
                    break Outcome::Finished;
                }
                let status = match &exit.status {
                    Ok(s) => s.to_string(),
                    Err(e) => e.to_string(),
                };
                if let Err(error) = supervisor.restart(exit.role, status).await {
                    progress.finish(&printer);
                    supervisor.stop_all(&mut interrupts).await;
                    supervisor.record.stopped = true;
                    supervisor.save();
                    return Err(error);
                }
            }
            _ = interrupts.recv() => break Outcome::Stopped { clean: true },
            _ = terminates.recv() => break Outcome::Stopped { clean: true },
            _ = tick.tick() => {
                if let Some(snap) = progress::snapshot(&client, &sink_http).await {
                    let tip = tip.as_ref().map(|(t, _)| t.load(std::sync::atomic::Ordering::Relaxed)).filter(|t| *t > 0);
                    progress.update(&snap, tip);
                }
            }
        }
    };
    progress.finish(&printer);
    if let Some((_, task)) = tip {
        task.abort();
    }
    let clean = supervisor.stop_all(&mut interrupts).await;
    supervisor.record.stopped = true;
    supervisor.save();
    match outcome {
        Outcome::Finished => {
            print_summary(&plan, began.elapsed());
            Ok(Outcome::Finished)
        }
        Outcome::Stopped { clean: signalled } => Ok(Outcome::Stopped {
            clean: clean && signalled,
        }),
    }
}

fn print_summary(plan: &Plan, took: Duration) {
    let progress = RunSummary::read(&plan.state_dir.join("sink"))
        .map(|summary| summary.progress)
        .unwrap_or_default();
    let events = progress.events;
    let (start, end) = (plan.start.unwrap_or(0), plan.end.unwrap_or(0));
    let ledgers = end.saturating_sub(start) + 1;
    let secs = took.as_secs_f64().max(0.001);
    let by_type: Vec<String> = progress
        .events_by_type
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let outputs = if plan.outputs.is_empty() {
        "parquet:./data".to_string()
    } else {
        plan.outputs.join(", ")
    };
    println!("pipeline finished: ledgers {start}..={end} ({ledgers}) in {secs:.1}s");
    if events == 0 {
        println!(
            "  nothing new was written: every output already held this range (remove {} to write it again)",
            plan.state_dir.join("sink").display()
        );
    } else {
        println!(
            "  {events} events ({}), {:.1} ledgers/s, {:.0} events/s",
            by_type.join(", "),
            f64::from(ledgers) / secs,
            events as f64 / secs
        );
    }
    println!("  outputs: {outputs}");
}
