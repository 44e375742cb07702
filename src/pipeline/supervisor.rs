//! The supervisor: one loop over typed [`Event`]s (a child exited, a child
//! became ready, a signal, a tick) driving one [`Phase`] per child and a
//! [`Mode`] for the run. It starts the children one after another (each
//! once the previous has bound its ports, answers `/health` and, with our
//! control plane, is registered), restarts a child that exits unexpectedly
//! with exponential backoff and a limit per time window, stops everything
//! in reverse order on SIGINT/SIGTERM (SIGKILL after the grace period; a
//! second SIGINT kills at once), and ends a bounded run with a summary once
//! the sink is done.
//!
//! Nothing in the loop sleeps: readiness checks run as tasks that report
//! back as events, and backoffs and grace periods are deadlines checked on
//! each tick, so a signal is handled within a tick whatever else is going on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::child::{self, Exit, LogSink};
use super::plan::{ChildSpec, Plan};
use super::progress::{self, Printer, Progress};
use super::ready::{NotReady, Readiness, ReadyCheck};
use super::state::{alive, now, ChildState, PipelineState, StateDir};
use crate::config::{Config, LogFormat, Role};
use crate::listen::Listening;
use crate::retry::Backoff;
use crate::security::Access;
use crate::telemetry::RunSummary;

/// Waits before restarting a child that keeps exiting (reset once it has
/// run longer than the restart window).
const RESTART_BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
/// How often deadlines are checked and progress is read.
const TICK: Duration = Duration::from_millis(250);
/// How long a killed child is given to be reaped before it is given up on.
const REAP: Duration = Duration::from_secs(3);

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

/// Where one child is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Not started yet: it waits for the children before it.
    Waiting,
    /// Started; its readiness check runs.
    Starting,
    /// Ready (or restarted after having been ready).
    Running,
    /// Exited unexpectedly; started again at the instant given.
    Backoff(Instant),
    /// Sent SIGTERM; killed at the deadline.
    Stopping(Instant),
    /// Sent SIGKILL; given up on at the deadline.
    Killed(Instant),
    /// Exited, and not coming back.
    Done,
}

/// What the supervisor reacts to.
enum Event {
    /// A child process ended.
    Exited(Exit),
    /// A readiness check ended.
    Ready(Readiness),
    /// SIGINT.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// Time to check deadlines and progress.
    Tick,
}

/// What the run as a whole is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Starting the child at this index of the plan.
    Starting(usize),
    /// Every child started; following progress.
    Running,
    /// Stopping every child, then ending with this outcome.
    Stopping(Ending),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    Finished,
    Signalled,
    Failed,
}

struct Child {
    spec: ChildSpec,
    phase: Phase,
    running: Option<child::Running>,
    /// Unix seconds of the current process's start (`pipeline status`).
    started_at: u64,
    generation: u32,
    restarts: u32,
    recent: VecDeque<Instant>,
    consecutive: u32,
}

struct Supervisor {
    children: Vec<Child>,
    mode: Mode,
    exits_tx: mpsc::Sender<Exit>,
    ready_tx: mpsc::Sender<Readiness>,
    logs: Box<dyn Fn(Role) -> LogSink + Send>,
    state: StateDir,
    record: PipelineState,
    /// Our own control plane's gRPC endpoint, once it has bound.
    controlplane: Option<String>,
    config: Config,
    /// Whether every child stopped by itself in time.
    clean: bool,
    /// Why a start-up or restart failed.
    failure: Option<anyhow::Error>,
}

impl Supervisor {
    fn child(&mut self, role: Role) -> Option<&mut Child> {
        self.children.iter_mut().find(|c| c.spec.role == role)
    }

    fn save(&mut self) {
        for child in &self.children {
            if let Some(running) = &child.running {
                self.record.children.insert(
                    child.spec.role.to_string(),
                    ChildState {
                        pid: running.pid,
                        http_addr: child.spec.http_addr.clone(),
                        data_addr: child.spec.data_addr.clone(),
                        started_at: child.started_at,
                        restarts: child.restarts,
                    },
                );
            }
        }
        if let Err(e) = self.state.store(&self.record) {
            tracing::warn!(error = %e, "cannot write the pipeline state");
        }
    }

    fn tail(&self, role: Role) -> String {
        format!(
            "--- last lines of {} ---\n{}",
            self.state.log(&role.to_string()).display(),
            self.state.tail(&role.to_string(), 15)
        )
    }

    /// Starts `role`'s process (again).
    fn spawn(&mut self, role: Role) -> anyhow::Result<u32> {
        let logs = (self.logs)(role);
        let exits = self.exits_tx.clone();
        let child = self
            .child(role)
            .ok_or_else(|| anyhow::anyhow!("no child {role}"))?;
        child.generation += 1;
        Listening::clear(&child.spec.state_dir);
        child.spec.write_config()?;
        let running = child::spawn(&child.spec, child.generation, logs, exits)?;
        let pid = running.pid;
        child.running = Some(running);
        child.started_at = now();
        self.save();
        Ok(pid)
    }

    /// Starts the child at `index` and its readiness check.
    fn start(&mut self, index: usize) -> anyhow::Result<()> {
        let role = self.children[index].spec.role;
        tracing::info!(%role, "starting");
        let pid = self.spawn(role)?;
        let child = &mut self.children[index];
        child.phase = Phase::Starting;
        let check = ReadyCheck {
            role,
            generation: child.generation,
            pid,
            state_dir: child.spec.state_dir.clone(),
            timeout: self.config.settings.pipeline.start_timeout,
            started: now(),
            registry: self
                .controlplane
                .clone()
                .filter(|_| role != Role::Controlplane)
                .map(|endpoint| (self.config.settings.clone(), endpoint)),
        };
        let ready = self.ready_tx.clone();
        tokio::spawn(async move {
            let answer = check.run().await;
            let _ = ready.send(answer).await;
        });
        Ok(())
    }

    /// Gives the children after `role` the addresses it bound: the control
    /// plane's endpoint to everyone, the source's to the processor, the
    /// processor's to the sink.
    fn connect(&mut self, role: Role) {
        let Some(spec) = self.child(role).map(|c| c.spec.clone()) else {
            return;
        };
        match role {
            Role::Controlplane => {
                self.controlplane = Some(spec.data_addr.clone());
                for child in self.children.iter_mut().filter(|c| c.spec.role != role) {
                    child.spec.set("flowctl.endpoint", spec.data_addr.clone());
                }
            }
            Role::Source => {
                if let Some(child) = self.child(Role::Processor) {
                    child.spec.set("processor.source_endpoint", spec.data_addr);
                }
            }
            Role::Processor => {
                if let Some(child) = self.child(Role::Sink) {
                    child.spec.set("sink.processor_endpoint", spec.data_addr);
                }
            }
            Role::Sink | Role::Pipeline => {}
        }
    }

    /// The addresses of `role` as it reported them.
    fn addrs(&self, role: Role) -> (String, String) {
        self.children
            .iter()
            .find(|c| c.spec.role == role)
            .map(|c| (c.spec.data_addr.clone(), c.spec.http_addr.clone()))
            .unwrap_or_default()
    }

    /// Ends the run: every child is stopped, in reverse start order.
    fn stop(&mut self, ending: Ending) {
        if !matches!(self.mode, Mode::Stopping(_)) {
            self.mode = Mode::Stopping(ending);
            self.stop_next();
        }
    }

    /// Stops the next child still running, in the order source, processor,
    /// sink, control plane (each stops pulling from its upstream first).
    fn stop_next(&mut self) {
        const ORDER: [Role; 4] = [
            Role::Source,
            Role::Processor,
            Role::Sink,
            Role::Controlplane,
        ];
        let grace = self.config.settings.pipeline.shutdown_timeout;
        if self
            .children
            .iter()
            .any(|c| matches!(c.phase, Phase::Stopping(_) | Phase::Killed(_)))
        {
            return;
        }
        for child in &mut self.children {
            if child.running.is_none() {
                child.phase = Phase::Done;
            }
        }
        for role in ORDER {
            let Some(child) = self.child(role) else {
                continue;
            };
            if let (Some(running), false) = (&child.running, child.phase == Phase::Done) {
                tracing::info!(%role, "stopping");
                running.terminate();
                child.phase = Phase::Stopping(Instant::now() + grace);
                return;
            }
        }
    }

    fn stopped(&self) -> bool {
        self.children.iter().all(|c| c.phase == Phase::Done)
    }

    /// A child's process ended.
    fn on_exit(&mut self, exit: Exit) {
        let bounded = self.record.end.is_some();
        let mode = self.mode;
        let Some(child) = self.child(exit.role) else {
            return;
        };
        if exit.generation != child.generation {
            return;
        }
        let uptime = child
            .running
            .take()
            .map(|r| r.started.elapsed())
            .unwrap_or_default();
        let phase = child.phase;
        let success = exit.status.as_ref().is_ok_and(|s| s.success());
        let status = match &exit.status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        let role = exit.role;
        let restart = match (mode, phase) {
            (Mode::Stopping(_), Phase::Stopping(_) | Phase::Killed(_)) => {
                if !success {
                    tracing::warn!(%role, %status, "exited with an error while stopping");
                    self.clean = false;
                }
                false
            }
            (Mode::Stopping(_), _) => false,
            // A bounded sink that wrote its whole range ends the run, even
            // one that finished before its readiness check looked.
            _ if role == Role::Sink && success && bounded => {
                self.stop(Ending::Finished);
                false
            }
            (Mode::Starting(_), Phase::Starting) => {
                let tail = self.tail(role);
                self.fail(anyhow::anyhow!(
                    "{role} exited during start-up ({status})\n{tail}"
                ));
                false
            }
            _ => true,
        };
        if restart {
            self.schedule_restart(role, status, uptime);
        } else {
            if let Some(child) = self.child(role) {
                child.phase = Phase::Done;
            }
            if matches!(self.mode, Mode::Stopping(_)) {
                self.stop_next();
            }
        }
    }

    /// Records a failure and stops everything.
    fn fail(&mut self, error: anyhow::Error) {
        let error = match self.mode {
            Mode::Starting(index) => {
                let role = self.children[index].spec.role;
                error.context(format!("cannot start the pipeline's {role}"))
            }
            _ => error,
        };
        self.failure.get_or_insert(error);
        self.stop(Ending::Failed);
    }

    /// Schedules a restart of a crashed child, or fails past the limit.
    fn schedule_restart(&mut self, role: Role, status: String, uptime: Duration) {
        let limit = self.config.settings.pipeline.restart_limit as usize;
        let window = self.config.settings.pipeline.restart_window;
        let tail = self.tail(role);
        let Some(child) = self.child(role) else {
            return;
        };
        let now = Instant::now();
        if uptime > window {
            child.consecutive = 0;
        }
        child.consecutive += 1;
        child.recent.retain(|t| now.duration_since(*t) < window);
        child.recent.push_back(now);
        if child.recent.len() > limit {
            let times = child.recent.len();
            self.fail(anyhow::anyhow!(
                "{role} exited {times} times within {window:?} ({status}); giving up\n{tail}"
            ));
            return;
        }
        let delay = RESTART_BACKOFF.delay(child.consecutive - 1);
        child.restarts += 1;
        child.phase = Phase::Backoff(now + delay);
        tracing::warn!(%role, %status, restart = child.restarts, ?delay, "child exited unexpectedly; restarting");
    }

    /// A readiness check ended.
    fn on_ready(&mut self, ready: Readiness) {
        let role = ready.role;
        let Some(child) = self.child(role) else {
            return;
        };
        if ready.generation != child.generation || child.phase != Phase::Starting {
            return;
        }
        match ready.result {
            Ok(Listening::Bound {
                data_addr,
                http_addr,
                ..
            }) => {
                child.spec.bound(data_addr.clone(), http_addr.clone());
                child.phase = Phase::Running;
                tracing::info!(%role, addr = %data_addr, http = %http_addr, "ready");
                self.connect(role);
                self.save();
                let Mode::Starting(index) = self.mode else {
                    return;
                };
                if index + 1 < self.children.len() {
                    self.mode = Mode::Starting(index + 1);
                    if let Err(e) = self.start(index + 1) {
                        self.fail(e);
                    }
                } else {
                    self.mode = Mode::Running;
                }
            }
            Ok(Listening::BindFailed {
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
                self.fail(anyhow::anyhow!(
                    "{role} cannot listen on {addr}: {error}{hint}"
                ));
            }
            // The exit event says whether that ends the run or fails it.
            Err(NotReady::Exited) => {}
            Err(NotReady::Failed(why)) => {
                let tail = self.tail(role);
                self.fail(anyhow::anyhow!("{role} {why}\n{tail}"));
            }
        }
    }

    /// Restarts what is due, kills what overstayed its grace period.
    fn on_tick(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        for child in &mut self.children {
            match child.phase {
                Phase::Backoff(at) if now >= at => due.push(child.spec.role),
                Phase::Stopping(deadline) if now >= deadline => {
                    let role = child.spec.role;
                    tracing::warn!(%role, grace = ?self.config.settings.pipeline.shutdown_timeout,
                        "did not stop within the grace period; killing it");
                    if let Some(running) = &child.running {
                        running.kill();
                    }
                    child.phase = Phase::Killed(now + REAP);
                    self.clean = false;
                }
                Phase::Killed(deadline) if now >= deadline => {
                    tracing::warn!(role = %child.spec.role, "could not be reaped; leaving it");
                    child.running = None;
                    child.phase = Phase::Done;
                }
                _ => {}
            }
        }
        if matches!(self.mode, Mode::Stopping(_)) {
            self.stop_next();
            return;
        }
        for role in due {
            match self.spawn(role) {
                Ok(_) => {
                    if let Some(child) = self.child(role) {
                        child.phase = Phase::Running;
                    }
                }
                Err(e) => self.fail(e),
            }
        }
    }

    /// A second interrupt while stopping: kill everything now.
    fn kill_all(&mut self) {
        tracing::warn!("second interrupt: killing every child now");
        let deadline = Instant::now() + REAP;
        for child in &mut self.children {
            if let Some(running) = &child.running {
                running.kill();
                child.phase = Phase::Killed(deadline);
            }
        }
        self.clean = false;
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
    let (exits_tx, mut exits) = mpsc::channel(16);
    let (ready_tx, mut ready) = mpsc::channel(4);
    let mut supervisor = Supervisor {
        children: plan
            .children
            .iter()
            .map(|spec| Child {
                spec: spec.clone(),
                phase: Phase::Waiting,
                running: None,
                started_at: 0,
                generation: 0,
                restarts: 0,
                recent: VecDeque::new(),
                consecutive: 0,
            })
            .collect(),
        mode: Mode::Starting(0),
        exits_tx,
        ready_tx,
        logs,
        state,
        record: PipelineState {
            pid: std::process::id(),
            started_at: now(),
            start: plan.start,
            end: plan.end,
            roles: plan.children.iter().map(|c| c.role.to_string()).collect(),
            ..Default::default()
        },
        controlplane: None,
        config: config.clone(),
        clean: true,
        failure: None,
    };
    let mut interrupts = signal(SignalKind::interrupt())?;
    let mut terminates = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let access = Access::from_settings(&config.settings)?.client;
    let client = crate::security::http_client(&access, Duration::from_secs(2))?;
    let began = Instant::now();
    let mut progress: Option<Progress> = None;
    let mut tip = None;
    if let Err(e) = supervisor.start(0) {
        supervisor.fail(e);
    }

    while !supervisor.stopped() {
        let event = tokio::select! {
            Some(exit) = exits.recv() => Event::Exited(exit),
            Some(answer) = ready.recv() => Event::Ready(answer),
            _ = interrupts.recv() => Event::Interrupt,
            _ = terminates.recv() => Event::Terminate,
            _ = tick.tick() => Event::Tick,
        };
        match event {
            Event::Exited(exit) => supervisor.on_exit(exit),
            Event::Ready(answer) => supervisor.on_ready(answer),
            Event::Interrupt | Event::Terminate => match supervisor.mode {
                Mode::Stopping(_) if matches!(event, Event::Interrupt) => supervisor.kill_all(),
                Mode::Stopping(_) => {}
                Mode::Starting(index) => {
                    let role = supervisor.children[index].spec.role;
                    tracing::info!(%role, "signal while starting {role}; stopping");
                    supervisor.stop(Ending::Signalled);
                }
                Mode::Running => supervisor.stop(Ending::Signalled),
            },
            Event::Tick => {
                supervisor.on_tick();
                if supervisor.mode == Mode::Running {
                    let shown = progress.get_or_insert_with(|| {
                        Progress::new(
                            plan.start,
                            plan.end,
                            config.settings.monitoring.interval,
                            &printer,
                        )
                    });
                    if plan.end.is_none() && tip.is_none() {
                        let (source, _) = supervisor.addrs(Role::Source);
                        tip = Some(progress::follow_tip(
                            source,
                            access.clone(),
                            config.settings.monitoring.interval,
                        ));
                    }
                    let (_, sink_http) = supervisor.addrs(Role::Sink);
                    if let Some(snap) = progress::snapshot(&client, &sink_http).await {
                        let tip = tip
                            .as_ref()
                            .map(|(t, _)| t.load(std::sync::atomic::Ordering::Relaxed))
                            .filter(|t| *t > 0);
                        shown.update(&snap, tip);
                    }
                }
            }
        }
    }
    if let Some(progress) = progress {
        progress.finish(&printer);
    }
    if let Some((_, task)) = tip {
        task.abort();
    }
    supervisor.record.stopped = true;
    supervisor.save();
    match supervisor.mode {
        Mode::Stopping(Ending::Failed) => Err(supervisor
            .failure
            .take()
            .unwrap_or_else(|| anyhow::anyhow!("the pipeline failed"))),
        Mode::Stopping(Ending::Finished) => {
            print_summary(&plan, began.elapsed());
            Ok(Outcome::Finished)
        }
        _ => Ok(Outcome::Stopped {
            clean: supervisor.clean,
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
