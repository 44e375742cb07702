//! The sink with real files, a real PostgreSQL and real processes: every
//! output holds the same events (checked by DuckDB and pyarrow too), the
//! WebSocket feed filters per client, killing the sink with SIGKILL at
//! random moments never loses or duplicates an event, and faults (bad
//! targets, a full disk, a wrong upstream) are clear errors that never move
//! a cursor past data that was not written.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stellarflow::config::Role;

struct Upstream {
    source: stellarflow::source::Running,
    processor: stellarflow::processor::Running,
    _lake: tempfile::TempDir,
}

impl Upstream {
    async fn start(start: u32, count: u32) -> Self {
        Self::start_paced(start, count, 0).await
    }

    /// An upstream whose source serves at most `rate` ledgers a second
    /// (0: unpaced), so a consumer's run takes a known minimum time.
    async fn start_paced(start: u32, count: u32, rate: u32) -> Self {
        let lake = tempfile::tempdir().unwrap();
        common::generate_lake(lake.path(), start, count);
        let rate = rate.to_string();
        let source = common::start_source(
            lake.path().to_str().unwrap(),
            &[("source.max_rate", rate.as_str())],
        )
        .await
        .unwrap();
        let processor = common::start_processor(&source.flight_addr.to_string(), &[])
            .await
            .unwrap();
        Upstream {
            source,
            processor,
            _lake: lake,
        }
    }

    fn endpoint(&self) -> String {
        self.processor.flight_addr.to_string()
    }

    async fn stop(self) {
        self.processor.shutdown().await;
        self.source.shutdown().await;
    }
}

fn sink_flags<'a>(
    endpoint: &'a str,
    state: &'a str,
    range: (&'a str, &'a str),
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("sink.processor_endpoint", endpoint),
        ("sink.flight_addr", "127.0.0.1:0"),
        ("sink.http_addr", "127.0.0.1:0"),
        ("sink.state_dir", state),
        ("sink.start", range.0),
        ("sink.end", range.1),
    ]
}

async fn pg_events(table: &str) -> Vec<(String, String)> {
    let client = common::postgres().await;
    client
        .query(
            &format!("SELECT event_id, amount::text FROM {table} ORDER BY event_id"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[tokio::test]
async fn every_output_holds_the_same_events() {
    let upstream = Upstream::start(1000, 80).await;
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let table = common::unique_table("tt_outputs");
    let outputs = format!(
        "parquet:{},jsonl:{},csv:{},postgres:{}",
        d("pq"),
        d("jl"),
        d("csv"),
        common::postgres_url()
    );
    let endpoint = upstream.endpoint();
    let state = d("state");
    let mut flags = sink_flags(&endpoint, &state, ("1000", "1079"));
    flags.extend([
        ("sink.outputs", outputs.as_str()),
        ("sink.postgres_table", table.as_str()),
        ("sink.rotate_rows", "3000"),
        ("sink.row_group_rows", "1024"),
    ]);
    let mut sink = stellarflow::sink::start(&common::config(Role::Sink, &flags))
        .await
        .unwrap();
    sink.finished().await.unwrap();
    let expected = sorted(common::generated_events(1000, 80, 1000, 1079));
    assert!(expected.len() > 7000);
    assert_eq!(
        sorted(common::parquet_events(&dir.path().join("pq"))),
        expected
    );
    assert_eq!(
        sorted(common::jsonl_events(&dir.path().join("jl"))),
        expected
    );
    assert_eq!(pg_events(&table).await, expected);
    // Files: Hive partitions by close date, ledger ranges in the names, no
    // temporaries left, cursor at the end.
    let files = common::files_with(&dir.path().join("pq"), "parquet");
    assert!(files.len() >= 3, "rotation by rows made several files");
    for f in &files {
        let name = f.to_str().unwrap();
        assert!(
            name.contains("/date=2025-01-01/ttp_event-00000010"),
            "{name}"
        );
    }
    assert!(common::files_with(dir.path(), "inprogress").is_empty());
    let cursor: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path().join("state/cursor-parquet-").with_file_name(
                std::fs::read_dir(dir.path().join("state"))
                    .unwrap()
                    .flatten()
                    .map(|e| e.file_name())
                    .find(|n| n.to_str().unwrap().starts_with("cursor-parquet"))
                    .unwrap(),
            ),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(cursor["ledger"], 1079);
    assert_eq!(
        sink.stats.events.load(std::sync::atomic::Ordering::Relaxed) as usize,
        expected.len()
    );

    // Readers nobody here wrote agree: DuckDB and pyarrow on the Parquet,
    // Python's json and csv modules on the text outputs.
    if let Some(python) = common::python_with(&["duckdb", "pyarrow.parquet"]) {
        let script = r#"
import sys, json, csv, glob, duckdb, pyarrow.parquet as pq, pyarrow.dataset as ds
root = sys.argv[1]
count, total = duckdb.sql(f"select count(*), sum(cast(amount as hugeint)) from read_parquet('{root}/pq/**/*.parquet', hive_partitioning=true)").fetchall()[0]
dates = [r[0] for r in duckdb.sql(f"select distinct cast(date as varchar) from read_parquet('{root}/pq/**/*.parquet', hive_partitioning=true)").fetchall()]
table = ds.dataset(f"{root}/pq", format="parquet", partitioning="hive").to_table()
files = sorted(glob.glob(f"{root}/pq/**/*.parquet", recursive=True))
meta = pq.read_schema(files[0]).metadata
groups = max(pq.ParquetFile(f).num_row_groups for f in files)
codec = pq.ParquetFile(files[0]).metadata.row_group(0).column(0).compression
lines = [json.loads(l) for f in glob.glob(f"{root}/jl/**/*.jsonl", recursive=True) for l in open(f)]
rows = [r for f in glob.glob(f"{root}/csv/**/*.csv", recursive=True) for r in csv.DictReader(open(f))]
print(json.dumps({"duckdb_count": count, "duckdb_sum": str(total), "dates": dates, "pyarrow_rows": table.num_rows,
  "schema": meta[b"stellarflow.schema"].decode(), "row_groups": groups, "codec": codec,
  "jsonl_count": len(lines), "jsonl_sum": str(sum(int(l["amount"]) for l in lines)), "jsonl_fields": len(lines[0]),
  "csv_count": len(rows), "csv_sum": str(sum(int(r["amount"]) for r in rows))}))
"#;
        let out = Command::new(python)
            .args(["-c", script, dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        common::assert_ok(&out);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let total: i128 = expected
            .iter()
            .map(|(_, a)| a.parse::<i128>().unwrap())
            .sum();
        assert_eq!(r["duckdb_count"], expected.len());
        assert_eq!(r["pyarrow_rows"], expected.len());
        assert_eq!(r["duckdb_sum"], total.to_string());
        assert_eq!(r["jsonl_count"], expected.len());
        assert_eq!(r["jsonl_sum"], total.to_string());
        assert_eq!(r["csv_count"], expected.len());
        assert_eq!(r["csv_sum"], total.to_string());
        assert_eq!(r["dates"], serde_json::json!(["2025-01-01"]));
        assert_eq!(
            r["schema"], "ttp_event",
            "Arrow schema metadata survives in Parquet"
        );
        assert!(
            r["row_groups"].as_u64().unwrap() > 1,
            "row groups of the configured size"
        );
        assert_eq!(r["codec"], "ZSTD");
        assert_eq!(r["jsonl_fields"], 18, "every schema field, nulls explicit");
    }
    sink.shutdown().await.unwrap();
    upstream.stop().await;
}

#[tokio::test]
async fn a_restarted_sink_resumes_after_its_cursor() {
    let upstream = Upstream::start(2000, 40).await;
    let dir = tempfile::tempdir().unwrap();
    let (pq, state) = (dir.path().join("pq"), dir.path().join("state"));
    let outputs = format!("parquet:{}", pq.display());
    let endpoint = upstream.endpoint();
    let state_s = state.to_str().unwrap().to_string();
    for (from, to) in [("2000", "2019"), ("2000", "2039")] {
        let mut flags = sink_flags(&endpoint, &state_s, (from, to));
        flags.push(("sink.outputs", outputs.as_str()));
        let mut sink = stellarflow::sink::start(&common::config(Role::Sink, &flags))
            .await
            .unwrap();
        sink.finished().await.unwrap();
        sink.shutdown().await.unwrap();
    }
    // The second run asked for 2020.. (max(start, cursor + 1)): no duplicates.
    let got = common::parquet_events(&pq);
    let unique: BTreeSet<&String> = got.iter().map(|(id, _)| id).collect();
    assert_eq!(unique.len(), got.len());
    assert_eq!(
        sorted(got),
        sorted(common::generated_events(2000, 40, 2000, 2039))
    );
    // Already complete: a third run exits at once.
    let mut flags = sink_flags(&endpoint, &state_s, ("2000", "2039"));
    flags.push(("sink.outputs", outputs.as_str()));
    let started = Instant::now();
    let mut sink = stellarflow::sink::start(&common::config(Role::Sink, &flags))
        .await
        .unwrap();
    sink.finished().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    sink.shutdown().await.unwrap();
    upstream.stop().await;
}

#[tokio::test]
async fn survives_sigkill_at_random_moments() {
    // 100 ledgers/s: a run needs 3 s for the range, so kills at 80-530 ms
    // land mid-run however fast the machine is.
    let upstream = Upstream::start_paced(3000, 300, 100).await;
    let endpoint = upstream.endpoint();
    let dir = tempfile::tempdir().unwrap();
    // Source and processor run on this test's runtime, so the sink child is
    // driven with async process calls (a blocking wait would starve them).
    let run_sink = |name: &str, table: &str| {
        let root = dir.path().join(name);
        let mut cmd = tokio::process::Command::new(common::bin());
        cmd.args([
            "sink",
            "--processor-endpoint",
            &endpoint,
            "--flight-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--start",
            "3000",
            "--end",
            "3299",
            "--state-dir",
            root.join("state").to_str().unwrap(),
            "--output",
            &format!("parquet:{}", root.join("pq").display()),
            "--output",
            &format!("jsonl:{}", root.join("jl").display()),
            "--output",
            &format!("postgres:{}", common::postgres_url()),
            "--postgres-table",
            table,
            "--rotate-rows",
            "700",
            "--row-group-rows",
            "1024",
            "--flush-interval",
            "100ms",
        ])
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        cmd
    };
    let clean_table = common::unique_table("tt_clean");
    let out = run_sink("clean", &clean_table).output().await.unwrap();
    assert!(
        out.status.success(),
        "clean run: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let killed_table = common::unique_table("tt_killed");
    let mut kills = 0;
    let mut rng_state: u64 = 0x5eed;
    let mut next = move || {
        rng_state = rng_state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        rng_state >> 33
    };
    let finished = loop {
        let mut child = run_sink("killed", &killed_table).spawn().unwrap();
        if kills >= 6 {
            break tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
                .await
                .expect("final run finishes")
                .unwrap();
        }
        let wait = Duration::from_millis(80 + next() % 450);
        tokio::time::sleep(wait).await;
        match child.try_wait().unwrap() {
            Some(_) => break child.wait_with_output().await.unwrap(),
            None => {
                child.start_kill().unwrap(); // SIGKILL
                child.wait().await.unwrap();
                kills += 1;
            }
        }
    };
    assert!(
        finished.status.success(),
        "final run: {}",
        String::from_utf8_lossy(&finished.stderr)
    );
    assert!(kills >= 3, "the sink was killed mid-run only {kills} times");
    eprintln!("sink killed {kills} times, then finished");

    let (clean, killed) = (dir.path().join("clean"), dir.path().join("killed"));
    let expected = sorted(common::generated_events(3000, 300, 3000, 3299));
    for (what, got) in [
        ("parquet", common::parquet_events(&killed.join("pq"))),
        ("jsonl", common::jsonl_events(&killed.join("jl"))),
        ("postgres", pg_events(&killed_table).await),
    ] {
        let ids: BTreeSet<&String> = got.iter().map(|(id, _)| id).collect();
        assert_eq!(
            ids.len(),
            got.len(),
            "{what}: duplicated events after kills"
        );
        assert_eq!(
            sorted(got),
            expected,
            "{what}: differs from the generated events"
        );
    }
    assert_eq!(sorted(common::parquet_events(&clean.join("pq"))), expected);
    assert_eq!(pg_events(&clean_table).await, expected);
    assert!(
        common::files_with(&killed, "inprogress").is_empty(),
        "no half files remain"
    );
    upstream.stop().await;
}

#[tokio::test]
async fn websocket_clients_get_exactly_their_events() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let processor_sockets = common::bind_free("Arrow Flight").await;
    let processor_addr = processor_sockets.data_addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").to_str().unwrap().to_string();
    let mut flags = sink_flags(&processor_addr, &state, ("4000", "4029"));
    flags.push(("sink.outputs", "websocket"));
    // The sink starts first (its upstream is not up yet) so the clients are
    // subscribed before any event flows.
    let mut sink = stellarflow::sink::start(&common::config(Role::Sink, &flags))
        .await
        .unwrap();
    let url = format!("ws://{}/ws", sink.http_addr);
    let (mut by_message, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    by_message
        .send(Message::Text(
            r#"{"subscribe": {"event_types": ["transfer"], "assets": ["native"]}}"#.into(),
        ))
        .await
        .unwrap();
    let ack = by_message
        .next()
        .await
        .unwrap()
        .unwrap()
        .into_text()
        .unwrap();
    assert!(ack.contains("subscribed"), "{ack}");
    let (mut by_query, _) =
        tokio_tungstenite::connect_async(format!("{url}?event_types=mint,burn").as_str())
            .await
            .unwrap();

    let lake = tempfile::tempdir().unwrap();
    common::generate_lake(lake.path(), 4000, 30);
    let source = common::start_source(lake.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let source_addr = source.flight_addr.to_string();
    let processor = stellarflow::processor::start_on(
        &common::config(
            Role::Processor,
            &[("processor.source_endpoint", source_addr.as_str())],
        ),
        processor_sockets,
    )
    .await
    .unwrap();
    sink.finished().await.unwrap();

    let options = stellarflow::stellar::generator::GeneratorOptions::new(4000, 30, 7);
    let all: Vec<stellarflow::processor::ttp::TtpEvent> =
        stellarflow::stellar::generator::ledgers(&options)
            .flat_map(|l| {
                stellarflow::processor::ttp::extract(
                    &l.meta,
                    &options.network,
                    stellarflow::processor::ttp::Mode::Auto,
                )
                .unwrap()
            })
            .collect();
    let want = |f: &dyn Fn(&stellarflow::processor::ttp::TtpEvent) -> bool| -> Vec<String> {
        all.iter().filter(|e| f(e)).map(|e| e.event_id()).collect()
    };
    let native_transfers =
        want(&|e| e.kind.as_str() == "transfer" && e.asset_string().as_deref() == Some("native"));
    let mints_burns = want(&|e| matches!(e.kind.as_str(), "mint" | "burn"));
    for (socket, expected) in [
        (&mut by_message, native_transfers),
        (&mut by_query, mints_burns),
    ] {
        let mut got = Vec::new();
        while got.len() < expected.len() {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("events arrive")
                .unwrap()
                .unwrap();
            if let Message::Text(text) = message {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                got.push(v["event_id"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(got, expected);
        // And nothing else arrives.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), socket.next())
                .await
                .is_err()
        );
    }
    // The HTTP API saw the same events.
    let recent: serde_json::Value =
        reqwest::get(format!("http://{}/api/events?limit=5", sink.http_addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let ids: Vec<&str> = recent["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    let last_five: Vec<String> = all[all.len() - 5..].iter().map(|e| e.event_id()).collect();
    assert_eq!(ids, last_five);
    let analytics: serde_json::Value =
        reqwest::get(format!("http://{}/api/analytics?window=1h", sink.http_addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let native = analytics["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["asset"] == "native")
        .unwrap();
    let native_events = all
        .iter()
        .filter(|e| e.asset_string().as_deref() == Some("native"))
        .count();
    assert_eq!(
        native["events"], native_events,
        "1h of ledger time covers the 30 ledgers"
    );
    let bad = reqwest::get(format!("http://{}/api/analytics?window=2d", sink.http_addr))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    sink.shutdown().await.unwrap();
    processor.shutdown().await;
    source.shutdown().await;
}

#[test]
fn a_client_that_falls_behind_is_disconnected_not_waited_for() {
    use stellarflow::sink::{live::LiveOutput, LiveFeed, Output, Subscription};
    let feed = LiveFeed::new(100, 4, true);
    let (_, client, mut queue) = feed.connect(Subscription::default());
    let options = stellarflow::stellar::generator::GeneratorOptions::new(100, 1, 7);
    let ledger = stellarflow::stellar::generator::ledgers(&options)
        .next()
        .unwrap();
    let events = stellarflow::processor::ttp::extract(
        &ledger.meta,
        &options.network,
        stellarflow::processor::ttp::Mode::Auto,
    )
    .unwrap();
    let batch = stellarflow::processor::ttp_batch(&events).unwrap();
    let mut output = LiveOutput::new(feed.clone());
    let started = Instant::now();
    output
        .write(
            &batch,
            stellarflow::flight::BatchMeta {
                first_ledger: 100,
                last_ledger: 100,
            },
        )
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the writer never waits for a client"
    );
    assert_eq!(feed.connections(), 0, "the slow client was dropped");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(1), client.kicked.notified())
            .await
            .expect("the client is told to close");
    });
    let mut queued = 0;
    while queue.try_recv().is_ok() {
        queued += 1;
    }
    assert_eq!(queued, 4, "exactly the queue's capacity was delivered");
}

#[tokio::test]
async fn bad_targets_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").to_str().unwrap().to_string();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            format!("parquet:{}", file.join("sub").display()),
            "cannot create",
        ),
        (
            "postgres:postgres://postgres@127.0.0.1:1/test".into(),
            "cannot connect",
        ),
    ];
    for (output, needle) in cases {
        let mut flags = sink_flags("127.0.0.1:1", &state, ("1", "2"));
        flags.push(("sink.outputs", output.as_str()));
        let err = stellarflow::sink::start(&common::config(Role::Sink, &flags))
            .await
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains(needle), "{output}: {err}");
    }
    // A spec that does not parse is refused when the configuration loads,
    // before the sink (or a pipeline's first child) starts.
    let mut flags = sink_flags("127.0.0.1:1", &state, ("1", "2"));
    flags.push(("sink.outputs", "postgres:nonsense"));
    let err = common::try_config(Role::Sink, &flags).expect_err("refused");
    assert!(
        err.to_string().contains("postgres:nonsense") && err.to_string().contains("PostgreSQL"),
        "{err}"
    );
    // Through the binary: exit 2 for the bad spec, 1 for the refused database.
    let run = |output: &str| {
        Command::new(common::bin())
            .args([
                "sink",
                "--output",
                output,
                "--start",
                "1",
                "--end",
                "2",
                "--state-dir",
                &state,
                "--http-addr",
                "127.0.0.1:0",
                "--flight-addr",
                "127.0.0.1:0",
            ])
            .output()
            .unwrap()
    };
    assert_eq!(run("ftp:/x").status.code(), Some(2));
    let refused = run("postgres:postgres://postgres@127.0.0.1:1/test");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot connect"));
}

#[tokio::test]
async fn a_source_is_not_an_event_upstream() {
    let lake = tempfile::tempdir().unwrap();
    common::generate_lake(lake.path(), 5000, 5);
    let source = common::start_source(lake.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (state, pq) = (dir.path().join("state"), dir.path().join("pq"));
    let endpoint = source.flight_addr.to_string();
    let state_s = state.to_str().unwrap().to_string();
    let output = format!("parquet:{}", pq.display());
    let mut flags = sink_flags(&endpoint, &state_s, ("5000", "5004"));
    flags.push(("sink.outputs", output.as_str()));
    let mut sink = stellarflow::sink::start(&common::config(Role::Sink, &flags))
        .await
        .unwrap();
    let err = sink.finished().await.unwrap_err().to_string();
    assert!(
        err.contains("schema mismatch") && err.contains("stellar_ledger"),
        "{err}"
    );
    assert!(common::files_with(&pq, "parquet").is_empty());
    let _ = sink.shutdown().await;
    source.shutdown().await;
}

/// Mounts a tmpfs of `size`; `None` (with a printed reason) where that is
/// not allowed.
fn tiny_disk(dir: &Path, size: &str) -> Option<()> {
    std::fs::create_dir_all(dir).unwrap();
    let ok = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            dir.to_str().unwrap(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::skip("cannot mount a tmpfs here (needs root); the full-disk test is skipped");
    }
    ok.then_some(())
}

#[tokio::test]
async fn a_full_disk_stops_the_sink_without_moving_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    if tiny_disk(&disk, "48k").is_none() {
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(disk.clone());
    let upstream = Upstream::start(6000, 40).await;
    let endpoint = upstream.endpoint();
    let state = dir.path().join("state").to_str().unwrap().to_string();
    let output = format!("jsonl:{}", disk.display());
    let mut flags = sink_flags(&endpoint, &state, ("6000", "6039"));
    flags.push(("sink.outputs", output.as_str()));
    let mut sink = stellarflow::sink::start(&common::config(Role::Sink, &flags))
        .await
        .unwrap();
    let err = sink.finished().await.unwrap_err().to_string();
    assert!(
        err.contains("No space left on device") && err.contains(disk.to_str().unwrap()),
        "{err}"
    );
    let _ = sink.shutdown().await;
    let cursor = std::fs::read_dir(dir.path().join("state"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_str().unwrap().starts_with("cursor-jsonl"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap());
    if let Some(cursor) = cursor {
        let v: serde_json::Value = serde_json::from_str(&cursor).unwrap();
        let committed = v["ledger"].as_u64();
        // Whatever was committed is really on disk, nothing beyond it.
        let on_disk = common::jsonl_events(&disk);
        let expected: Vec<(String, String)> = match committed {
            Some(c) => common::generated_events(6000, 40, 6000, c as u32),
            None => Vec::new(),
        };
        assert_eq!(sorted(on_disk), sorted(expected));
        assert!(committed.is_none_or(|c| c < 6039));
    }
    upstream.stop().await;
}

#[tokio::test]
async fn postgres_connection_loss_is_retried_from_the_cursor() {
    let upstream = Upstream::start(7000, 120).await;
    let endpoint = upstream.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").to_str().unwrap().to_string();
    let table = common::unique_table("tt_reconnect");
    let app = format!("stellarflow_test_{}", std::process::id());
    let url = format!("{}?application_name={app}", common::postgres_url());
    let output = format!("postgres:{url}");
    let mut flags = sink_flags(&endpoint, &state, ("7000", "7119"));
    flags.extend([
        ("sink.outputs", output.as_str()),
        ("sink.postgres_table", table.as_str()),
        ("sink.rotate_rows", "500"),
        ("sink.flush_interval", "50ms"),
    ]);
    let mut sink = stellarflow::sink::start(&common::config(Role::Sink, &flags))
        .await
        .unwrap();
    let admin = common::postgres().await;
    let mut terminated = 0;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let rows = admin
            .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&app])
            .await
            .unwrap();
        terminated += rows.len();
    }
    sink.finished().await.unwrap();
    assert_eq!(
        pg_events(&table).await,
        sorted(common::generated_events(7000, 120, 7000, 7119))
    );
    eprintln!("terminated {terminated} sink connections during the run");
    sink.shutdown().await.unwrap();
    upstream.stop().await;
}

/// The sink's in-flight figure counts batches received and not yet
/// written, against the bound of its queue: it never exceeds that bound
/// (so the control plane's load for it stays at or below 100%), and it is
/// back to zero when the run ends.
#[tokio::test]
async fn in_flight_counts_queued_batches_within_their_bound() {
    use std::sync::atomic::Ordering;
    let upstream = Upstream::start(2000, 300).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let outputs = format!("jsonl:{}", dir.path().join("jl").display());
    let endpoint = upstream.endpoint();
    let state_s = state.to_str().unwrap().to_string();
    let mut flags = sink_flags(&endpoint, &state_s, ("2000", "2299"));
    flags.push(("sink.outputs", outputs.as_str()));
    let mut sink = stellarflow::sink::start(&common::config(Role::Sink, &flags))
        .await
        .unwrap();
    let stats = sink.stats.clone();
    let max = stats.common.max_inflight.load(Ordering::Relaxed);
    assert_eq!(max, 5, "four queued batches and the one being written");
    let watcher = tokio::spawn(async move {
        let mut highest = 0;
        loop {
            highest = highest.max(stats.common.inflight.load(Ordering::Relaxed));
            if stats.common.current_ledger.load(Ordering::Relaxed) >= 2299 {
                return (highest, stats);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    sink.finished().await.unwrap();
    let (highest, stats) = tokio::time::timeout(Duration::from_secs(30), watcher)
        .await
        .expect("the cursor reaches the end")
        .unwrap();
    assert!(highest <= max, "in flight reached {highest} of {max}");
    assert_eq!(stats.common.inflight.load(Ordering::Relaxed), 0);
    sink.shutdown().await.unwrap();
    upstream.stop().await;
}
