//! `stellarflow pipeline` end to end with real processes: the supervisor
//! starts control plane, source, processor and sink as children of the
//! built binary over the built-in generated lake (ledgers 1000..=1199).
//! Every test has its own state dir and a config file that puts every
//! child on a free port, so tests run side by side.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// One pipeline's directory: its config file, state dir and outputs.
struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ports = std::fs::read_to_string(common::any_ports(dir.path())).unwrap();
        let config = format!("{ports}[monitoring]\ninterval = \"1s\"\n");
        std::fs::write(dir.path().join("ports.toml"), config).unwrap();
        Run { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn state(&self) -> String {
        self.path("state").display().to_string()
    }

    /// `stellarflow pipeline` with this run's config and state dir, the
    /// given extra arguments, and Parquet + JSONL outputs.
    fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(common::bin());
        cmd.current_dir(self.dir.path())
            .arg("pipeline")
            .args(["--config", self.path("ports.toml").to_str().unwrap()])
            .args(["--state-dir", &self.state()])
            .args([
                "--output",
                &format!("parquet:{}", self.path("pq").display()),
            ])
            .args(["--output", &format!("jsonl:{}", self.path("jl").display())])
            .args(extra)
            .env_remove("FLOWCTL_ENDPOINT")
            .env("LOG_LEVEL", "info")
            .stdin(Stdio::null());
        cmd
    }

    fn spawn(&self, extra: &[&str]) -> Child {
        self.command(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `stellarflow pipeline <action>` against this run's state dir.
    fn control(&self, action: &str) -> Output {
        Command::new(common::bin())
            .args(["pipeline", action, "--state-dir", &self.state()])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The pid file of `role`, once it exists.
    fn pid(&self, role: &str) -> Option<u32> {
        std::fs::read_to_string(self.path(&format!("state/pids/{role}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Every child's pid, as recorded while the pipeline runs.
    fn child_pids(&self) -> BTreeMap<String, u32> {
        ["controlplane", "source", "processor", "sink"]
            .into_iter()
            .filter_map(|role| Some((role.to_string(), self.pid(role)?)))
            .collect()
    }

    /// Waits until all four children run and `pipeline health` says so.
    fn wait_healthy(&self) {
        wait_until("a healthy pipeline", Duration::from_secs(60), || {
            self.child_pids().len() == 4 && self.control("health").status.success()
        });
    }

    /// What the processor said it extracted when it stopped.
    fn processor_events(&self) -> u64 {
        let log = std::fs::read_to_string(self.path("state/logs/processor.log")).unwrap();
        let line = log
            .lines()
            .rfind(|l| l.contains("processor stopped"))
            .unwrap_or_else(|| panic!("the processor never logged its stop:\n{log}"));
        field(line, "events=").unwrap_or_else(|| panic!("no events= in {line:?}"))
    }
}

fn field(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Whether `pid` still runs (a zombie waiting to be reaped does not).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let began = Instant::now();
    while !ready() {
        assert!(began.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for a child process to exit, at most `limit`.
fn wait_output(mut child: Child, limit: Duration) -> Output {
    let began = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if began.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the pipeline did not exit within {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

fn sorted_ids(events: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut events = events;
    events.sort();
    events
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_bounded_run_writes_what_the_processor_extracted() {
    let run = Run::new();
    let out = wait_output(run.spawn(&[]), Duration::from_secs(180));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "pipeline failed:\n{stderr}");

    let parquet = sorted_ids(common::parquet_events(&run.path("pq")));
    let jsonl = sorted_ids(common::jsonl_events(&run.path("jl")));
    let extracted = run.processor_events();
    assert!(extracted > 1000, "the generated lake has transfers");
    assert_eq!(parquet.len() as u64, extracted, "parquet rows");
    assert_eq!(jsonl.len() as u64, extracted, "jsonl lines");
    assert_eq!(parquet, jsonl, "both outputs hold the same events");

    // The summary reports the same count, and every role's lines carry
    // their prefix.
    assert!(
        stdout.contains("ledgers 1000..=1199 (200)"),
        "summary:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("{extracted} events")),
        "summary:\n{stdout}"
    );
    for role in ["controlplane", "source", "processor", "sink"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{role:<12} | "))),
            "no {role} lines:\n{stderr}"
        );
    }
    // Stopped: the state says so and no pid file is left to signal.
    assert!(run.child_pids().is_empty());
    let status = run.control("status");
    assert_eq!(status.status.code(), Some(1), "{}", text(&status.stdout));
}

#[test]
fn a_killed_processor_is_restarted_and_the_output_is_unchanged() {
    let calm = Run::new();
    let out = wait_output(calm.spawn(&[]), Duration::from_secs(180));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = sorted_ids(common::jsonl_events(&calm.path("jl")));

    // 40 ledgers/s: the range takes 5 s, time enough to kill mid-run.
    let run = Run::new();
    let child = run.spawn(&["--max-rate", "40"]);
    wait_until("a running processor", Duration::from_secs(60), || {
        run.pid("processor").is_some() && run.pid("sink").is_some()
    });
    std::thread::sleep(Duration::from_millis(1500));
    let victim = run.pid("processor").unwrap();
    // SIGKILL to the processor child this test started.
    nix::sys::signal::kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();
    let out = wait_output(child, Duration::from_secs(180));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "pipeline failed:\n{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("restarting") && l.contains("role=processor")),
        "no restart reported:\n{stderr}"
    );

    let parquet = sorted_ids(common::parquet_events(&run.path("pq")));
    let jsonl = sorted_ids(common::jsonl_events(&run.path("jl")));
    assert_eq!(jsonl.len(), expected.len(), "no event lost or doubled");
    assert_eq!(jsonl, expected, "same events as the undisturbed run");
    assert_eq!(parquet, expected, "parquet too");
}

#[test]
fn sigterm_stops_every_child_and_a_second_terminal_sees_the_pipeline() {
    let run = Run::new();
    // Live from 1000: after the generated lake's last ledger the source
    // waits for more, so the pipeline runs until it is stopped.
    let child = run.spawn(&["--start", "1000"]);
    run.wait_healthy();
    let pids = run.child_pids();

    let status = run.control("status");
    let table = text(&status.stdout);
    assert!(status.status.success(), "{table}");
    for (role, pid) in &pids {
        let row = table
            .lines()
            .find(|l| l.starts_with(role.as_str()))
            .unwrap_or_else(|| panic!("no {role} row:\n{table}"));
        assert!(row.contains(&pid.to_string()), "{row}");
        assert!(row.split_whitespace().any(|w| w == "healthy"), "{row}");
    }
    wait_until(
        "the sink past the lake's end",
        Duration::from_secs(60),
        || {
            let table = text(&run.control("status").stdout);
            table
                .lines()
                .any(|l| l.starts_with("sink") && l.trim_end().ends_with("1199"))
        },
    );

    // SIGTERM to the pipeline process this test started.
    nix::sys::signal::kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = wait_output(child, Duration::from_secs(60));
    assert!(out.status.success(), "unclean stop:\n{}", text(&out.stderr));
    for (role, pid) in &pids {
        wait_until(
            &format!("{role} (pid {pid}) to exit"),
            Duration::from_secs(5),
            || !running(*pid),
        );
    }
    // The processor shut down by itself (it logs its stop), it was not
    // killed at the end of the grace period.
    run.processor_events();
    assert!(!run.control("health").status.success());
}

#[test]
fn pipeline_stop_from_another_terminal() {
    let run = Run::new();
    let child = run.spawn(&["--start", "1000"]);
    run.wait_healthy();
    let pids = run.child_pids();
    let stop = run.control("stop");
    assert!(stop.status.success(), "{}", text(&stop.stdout));
    assert!(text(&stop.stdout).contains("stopped"));
    let out = wait_output(child, Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(pids.values().all(|pid| !running(*pid)), "{pids:?}");
    let logs = run.control("logs");
    assert!(text(&logs.stdout).contains("sink"), "logs keep the run");
}

#[test]
fn a_child_that_cannot_start_is_named() {
    let run = Run::new();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().to_string();
    let out = run
        .command(&[])
        .env("TTP_ARROW_PROCESSOR_FLIGHT_ADDR", &port)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot start the pipeline's processor"),
        "{stderr}"
    );
    assert!(stderr.contains(&port), "names the busy address:\n{stderr}");
    // Whatever had started is stopped again.
    assert!(run.child_pids().is_empty(), "{:?}", run.child_pids());
    drop(busy);
}

#[test]
fn bad_options_fail_before_anything_starts() {
    let run = Run::new();
    let out = run.command(&["--end", "not-a-ledger"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not-a-ledger"));
    assert!(!Path::new(&run.state()).join("pipeline.json").exists());
}

/// Each child killed in turn in one run (source, control plane, sink,
/// processor, then the sink again), then the supervisor itself killed and
/// the pipeline rerun with the same state dir: the outputs hold exactly
/// the undisturbed run's events.
#[test]
fn every_child_and_the_supervisor_killed_then_rerun_lose_and_double_nothing() {
    let calm = Run::new();
    let out = wait_output(calm.spawn(&[]), Duration::from_secs(180));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = sorted_ids(common::jsonl_events(&calm.path("jl")));

    // 6 ledgers/s: the range takes over 30 s, time enough for six kills
    // even where restarts are slow.
    let run = Run::new();
    let child = run.spawn(&["--max-rate", "6"]);
    run.wait_healthy();
    let supervisor = child.id();
    let mut killed = Vec::new();
    for role in ["source", "controlplane", "sink", "processor", "sink"] {
        let before = killed.iter().rfind(|(r, _)| r == role).map(|(_, pid)| *pid);
        // The role's current pid: a restarted one, not the pid just killed.
        wait_until(
            &format!("a running {role}"),
            Duration::from_secs(60),
            || {
                run.pid(role)
                    .is_some_and(|pid| Some(pid) != before && running(pid))
            },
        );
        std::thread::sleep(Duration::from_millis(700));
        let victim = run.pid(role).unwrap();
        nix::sys::signal::kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();
        killed.push((role.to_string(), victim));
    }
    // Then the supervisor: its children get SIGTERM (parent-death signal)
    // and stop, committing what they have.
    run.wait_healthy();
    nix::sys::signal::kill(Pid::from_raw(supervisor as i32), Signal::SIGKILL).unwrap();
    let out = wait_output(child, Duration::from_secs(60));
    assert!(!out.status.success(), "the supervisor was killed");
    let stderr = text(&out.stderr);
    for role in ["source", "controlplane", "sink", "processor"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("restarting") && l.contains(&format!("role={role}"))),
            "no restart of {role} reported:\n{stderr}"
        );
    }
    wait_until("the children to stop", Duration::from_secs(30), || {
        killed.iter().all(|(_, pid)| !running(*pid))
            && run.child_pids().values().all(|pid| !running(*pid))
    });

    let out = wait_output(run.spawn(&[]), Duration::from_secs(180));
    assert!(out.status.success(), "rerun failed:\n{}", text(&out.stderr));
    let jsonl = sorted_ids(common::jsonl_events(&run.path("jl")));
    let parquet = sorted_ids(common::parquet_events(&run.path("pq")));
    assert_eq!(jsonl.len(), expected.len(), "no event lost or doubled");
    assert_eq!(jsonl, expected, "same events as the undisturbed run");
    assert_eq!(parquet, expected, "parquet too");
}
