//! Faults a running pipeline must survive with nothing lost and nothing
//! duplicated, run with real processes on the built-in generated lake
//! (200 ledgers, 19,361 events). Each case ends by comparing the output,
//! sorted and exact, with what an undisturbed run writes.
//!
//! The other fault cases live beside the part they exercise (see
//! docs/reliability.md for the table): SIGKILL of each child and of the
//! whole pipeline in `tests/pipeline.rs`, the sink killed mid-commit and
//! PostgreSQL restarts in `tests/sink.rs`, corrupt and missing objects in
//! `tests/source.rs`, the control plane away in `tests/controlplane.rs`.

mod common;

use std::path::Path;
use std::process::Command;

/// A small tmpfs at a fresh directory, unmounted on drop; `None` (with a
/// printed reason) where this process may not mount.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        if !out.status.success() {
            common::skip(&format!(
                "cannot mount a tmpfs to fill: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .output()
            .unwrap();
        common::assert_ok(&out);
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).output();
    }
}

fn pipeline(state: &Path, output: &Path) -> std::process::Output {
    Command::new(common::bin())
        .args(["pipeline", "--profile", "local", "--config"])
        .arg(common::any_ports(state))
        .arg("--state-dir")
        .arg(state)
        .args(["--output", &format!("jsonl:{}", output.display())])
        .env("STELLARFLOW_PIPELINE_RESTART_LIMIT", "2")
        .env("STELLARFLOW_PIPELINE_RESTART_WINDOW", "10m")
        .output()
        .unwrap()
}

/// The output disk fills mid-run: the run fails with an error naming the
/// path, no partial file appears under a final name, a rerun clears the
/// failed attempt's leftovers itself, and once space is freed a rerun
/// finishes with exactly the undisturbed run's events.
#[test]
fn output_disk_full_then_freed_finishes_exactly() {
    let Some(disk) = Tmpfs::mount("1m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let output = disk.path().join("out");

    let out = pipeline(&state, &output);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "1 MiB cannot hold the run: {stderr}");
    assert!(
        stderr.contains("No space left on device")
            && stderr.contains(&output.display().to_string()),
        "the error names the path and the cause: {stderr}"
    );
    // Every file under a final name is whole: each line is one event.
    for file in common::files_with(&output, "jsonl") {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{} holds a partial line: {e}", file.display()));
        }
    }

    // The failed attempt's temporary file fills the disk. A rerun removes
    // it before anything else, so it gets past its start-up checks (and
    // fails again only when the disk fills again), instead of finding the
    // disk full of its own leftovers.
    let out = pipeline(&state, &output);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains("is not writable"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");

    disk.resize("64m");
    let out = pipeline(&state, &output);
    common::assert_ok(&out);
    let mut events = common::jsonl_events(&output);
    assert_eq!(events.len(), 19_361, "nothing lost");
    events.sort();
    events.dedup();
    assert_eq!(events.len(), 19_361, "nothing duplicated");
    let leftovers: Vec<_> = common::walk(&output)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "inprogress"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
