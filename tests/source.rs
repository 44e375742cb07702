//! The source over real Arrow Flight on loopback: the real pubnet fixture
//! lake, generated lakes, the RPC backend against a local replaying server,
//! flowctl's LedgerSource service, and every bad-input case with its error
//! text.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow::array::{Array, BinaryArray, FixedSizeBinaryArray, TimestampSecondArray, UInt32Array};
use sha2::{Digest, Sha256};
use stellar_xdr::{LedgerCloseMeta, Limits, ReadXdr, TransactionResultResult, WriteXdr};
use stellarflow::flight::{LedgerBatch, Ticket};
use stellarflow::stellar::{LedgerView, Network};
use tonic::Code;

/// One served row, read back from the Arrow columns.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    sequence: u32,
    hash: Vec<u8>,
    previous_hash: Vec<u8>,
    close_time: i64,
    protocol: u32,
    tx: u32,
    ok: u32,
    failed: u32,
    xdr: Vec<u8>,
}

fn rows(batches: &[LedgerBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let batch = &b.batch;
        let col = |name: &str| batch.column_by_name(name).unwrap().clone();
        let u32s = |name: &str| {
            col(name)
                .as_any()
                .downcast_ref::<UInt32Array>()
                .unwrap()
                .clone()
        };
        let fixed = |name: &str| {
            col(name)
                .as_any()
                .downcast_ref::<FixedSizeBinaryArray>()
                .unwrap()
                .clone()
        };
        let (seq, hash, prev) = (u32s("sequence"), fixed("hash"), fixed("previous_hash"));
        let close = col("close_time")
            .as_any()
            .downcast_ref::<TimestampSecondArray>()
            .unwrap()
            .clone();
        let (protocol, tx, ok, failed) = (
            u32s("protocol_version"),
            u32s("transaction_count"),
            u32s("successful_transaction_count"),
            u32s("failed_transaction_count"),
        );
        let xdr = col("ledger_xdr")
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap()
            .clone();
        for i in 0..batch.num_rows() {
            out.push(Row {
                sequence: seq.value(i),
                hash: hash.value(i).to_vec(),
                previous_hash: prev.value(i).to_vec(),
                close_time: close.value(i),
                protocol: protocol.value(i),
                tx: tx.value(i),
                ok: ok.value(i),
                failed: failed.value(i),
                xdr: xdr.value(i).to_vec(),
            });
        }
    }
    out
}

fn decode(xdr: &[u8]) -> LedgerCloseMeta {
    LedgerCloseMeta::from_xdr(
        xdr,
        Limits {
            depth: 500,
            len: xdr.len(),
        },
    )
    .expect("served XDR decodes")
}

/// Successful/failed counts computed here, independently of the source.
fn outcome_counts(meta: &LedgerCloseMeta) -> (u32, u32) {
    let results: Vec<TransactionResultResult> = match meta {
        LedgerCloseMeta::V0(m) => m
            .tx_processing
            .iter()
            .map(|t| t.result.result.result.clone())
            .collect(),
        LedgerCloseMeta::V1(m) => m
            .tx_processing
            .iter()
            .map(|t| t.result.result.result.clone())
            .collect(),
        LedgerCloseMeta::V2(m) => m
            .tx_processing
            .iter()
            .map(|t| t.result.result.result.clone())
            .collect(),
    };
    let ok = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                TransactionResultResult::TxSuccess(_)
                    | TransactionResultResult::TxFeeBumpInnerSuccess(_)
            )
        })
        .count() as u32;
    (ok, results.len() as u32 - ok)
}

#[tokio::test]
async fn serves_every_fixture_ledger_with_the_right_values() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let lake = fixtures.join("lake");
    let source = common::start_source(lake.to_str().unwrap(), &[])
        .await
        .unwrap();
    let endpoint = source.flight_addr.to_string();
    // (ledger, protocol, transactions) from the reference notes.
    let known = [
        (6154623, 2, 0),
        (16154623, 9, 2),
        (26154623, 11, 19),
        (36154623, 17, 190),
        (46154623, 19, 212),
        (51000294, 20, 541),
        (53312000, 21, 163),
        (57500008, 22, 264),
        (63092988, 26, 228),
        (63092990, 26, 236),
        (63092996, 26, 250),
    ];
    for (ledger, protocol, txs) in known {
        let served = rows(
            &common::read_range(&endpoint, Ticket::range(ledger, ledger))
                .await
                .unwrap(),
        );
        assert_eq!(served.len(), 1, "ledger {ledger}");
        let row = &served[0];
        let meta = decode(&row.xdr);
        let header = LedgerView::new(&meta).header().clone();
        assert_eq!(row.sequence, ledger);
        assert_eq!(row.protocol, protocol, "protocol of {ledger}");
        assert_eq!(row.tx, txs, "transactions of {ledger}");
        assert_eq!(
            (row.ok, row.failed),
            outcome_counts(&meta),
            "outcomes of {ledger}"
        );
        assert_eq!(row.close_time as u64, header.scp_value.close_time.0);
        let digest: [u8; 32] = Sha256::digest(header.to_xdr(Limits::none()).unwrap()).into();
        assert_eq!(
            row.hash,
            digest.to_vec(),
            "hash of {ledger} is sha256(header XDR)"
        );
        assert_eq!(row.previous_hash, header.previous_ledger_hash.0.to_vec());
    }
    // Ledger 63092988's previous hash is the header's previous_ledger_hash.
    let served = rows(
        &common::read_range(&endpoint, Ticket::range(63092988, 63092988))
            .await
            .unwrap(),
    );
    assert_eq!(
        hex::encode(&served[0].previous_hash),
        hex::encode(
            LedgerView::new(&decode(&served[0].xdr))
                .header()
                .previous_ledger_hash
                .0
        )
    );
    // The lake is pubnet and says so.
    assert!(served.iter().all(|r| r.close_time > 1_700_000_000));
    source.shutdown().await;
}

/// A lake holding only the old-suffix object of the fixtures.
fn old_suffix_lake(fixtures: &Path, dir: &Path) -> PathBuf {
    let lake = dir.join("old-suffix");
    let partition = lake.join("FCD285FF--53312000-53375999");
    std::fs::create_dir_all(&partition).unwrap();
    std::fs::copy(
        fixtures.join("lake/.config.json"),
        lake.join(".config.json"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("FCD285FF--53312000.xdr.zstd"),
        partition.join("FCD285FF--53312000.xdr.zstd"),
    )
    .unwrap();
    lake
}

#[tokio::test]
async fn reads_the_old_xdr_zstd_suffix() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = old_suffix_lake(&fixtures, dir.path());
    let source = common::start_source(lake.to_str().unwrap(), &[])
        .await
        .unwrap();
    let served = rows(
        &common::read_range(
            &source.flight_addr.to_string(),
            Ticket::range(53312000, 53312000),
        )
        .await
        .unwrap(),
    );
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].sequence, 53312000);
    assert_eq!(served[0].tx, 163);
    source.shutdown().await;
}

#[tokio::test]
async fn generated_range_is_served_in_order_exactly_once_with_a_hash_chain() {
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 2000, 100);
    let source = common::start_source(dir.path().to_str().unwrap(), &[("source.prefetch", "8")])
        .await
        .unwrap();
    let endpoint = source.flight_addr.to_string();
    let batches = common::read_range(&endpoint, Ticket::range(2010, 2089))
        .await
        .unwrap();
    let served = rows(&batches);
    let sequences: Vec<u32> = served.iter().map(|r| r.sequence).collect();
    assert_eq!(sequences, (2010..=2089).collect::<Vec<_>>());
    for pair in served.windows(2) {
        assert_eq!(
            pair[1].previous_hash, pair[0].hash,
            "hash chain at {}",
            pair[1].sequence
        );
    }
    // Every batch says which ledgers it covers, and they tile the range.
    let mut next = 2010;
    for b in &batches {
        assert_eq!(b.meta.first_ledger, next);
        next = b.meta.last_ledger + 1;
    }
    assert_eq!(next, 2090);
    // Batches stay within Flight-friendly sizes (about 1 MB of XDR, plus
    // at most one ledger).
    for b in &batches {
        let xdr: usize = rows(std::slice::from_ref(b))
            .iter()
            .map(|r| r.xdr.len())
            .sum();
        assert!(xdr < 2 << 20, "batch {:?} holds {xdr} bytes of XDR", b.meta);
    }
    assert!(
        batches.len() > 1,
        "80 ledgers of ~70 KB do not fit one 1 MB batch"
    );
    // Every tx hash recomputes from its envelope.
    let network = Network::parse("standalone").unwrap();
    for row in &served {
        let meta = decode(&row.xdr);
        let view = LedgerView::new(&meta);
        let results: std::collections::HashSet<[u8; 32]> = view
            .transactions()
            .iter()
            .map(|t| t.result.transaction_hash.0)
            .collect();
        for envelope in view.envelopes() {
            assert!(
                results.contains(&envelope.hash(network.id).unwrap()),
                "tx hash in ledger {}",
                row.sequence
            );
        }
        assert_eq!(view.envelopes().len(), results.len());
    }
    // Exact counts from this source's own counters (Prometheus metrics are
    // process-wide, shared with other tests running in this process).
    assert_eq!(
        source
            .stats
            .ledgers
            .load(std::sync::atomic::Ordering::Relaxed),
        80
    );
    let metrics = reqwest::get(format!("http://{}/metrics", source.http_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stellarflow_source_ledgers_total"),
        "{metrics}"
    );
    source.shutdown().await;
}

#[test]
fn generator_is_deterministic_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    common::generate_lake(&a, 500, 100);
    common::generate_lake(&b, 500, 100);
    let files = |root: &Path| {
        let mut found = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    found.push((
                        p.strip_prefix(root).unwrap().to_path_buf(),
                        std::fs::read(&p).unwrap(),
                    ));
                }
            }
        }
        found.sort();
        found
    };
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), 101, "100 objects and a manifest");
    assert!(fa == fb, "same seed, same bytes");
    // A different seed gives different ledgers.
    let c = dir.path().join("c");
    let options = stellarflow::stellar::generator::GeneratorOptions::new(500, 3, 8);
    stellarflow::stellar::generator::write_lake(&options, &c, None).unwrap();
    assert_ne!(files(&c)[1].1, fa[1].1);
}

#[test]
fn python_stellar_sdk_decodes_a_generated_lake() {
    let Some(python) = common::python_with(&["stellar_sdk", "zstandard"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 3000, 20);
    let out = std::process::Command::new(python)
        .arg(common::test_file("python/decode_lake.py"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stellar-sdk disagrees: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ledgers"], 20);
    assert_eq!(report["first"], 3000);
    assert_eq!(report["transactions"], 20 * 40);
}

#[tokio::test]
async fn pyarrow_flight_client_reads_the_same_rows() {
    let Some(python) = common::python_with(&["pyarrow.flight"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 4000, 30);
    let source = common::start_source(dir.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let endpoint = source.flight_addr.to_string();
    let ours: Vec<(u32, String, String)> = rows(
        &common::read_range(&endpoint, Ticket::range(4005, 4024))
            .await
            .unwrap(),
    )
    .into_iter()
    .map(|r| {
        (
            r.sequence,
            hex::encode(&r.hash),
            hex::encode(Sha256::digest(&r.xdr)),
        )
    })
    .collect();
    let script = r#"
import sys, json, hashlib, pyarrow.flight as fl
client = fl.connect("grpc://" + sys.argv[1])
table = client.do_get(fl.Ticket(json.dumps({"start": 4005, "end": 4024}).encode())).read_all()
assert table.schema.metadata[b"stellarflow.schema"] == b"stellar_ledger"
print(json.dumps([[r["sequence"], r["hash"].hex(), hashlib.sha256(r["ledger_xdr"]).hexdigest()] for r in table.to_pylist()]))
"#;
    let out = tokio::process::Command::new(python)
        .args(["-c", script, &endpoint])
        .output()
        .await
        .unwrap();
    common::assert_ok(&out);
    let theirs: Vec<(u32, String, String)> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), 20);
    assert_eq!(theirs, ours);
    source.shutdown().await;
}

/// Writes `raw` (already compressed or not) as the object of `ledger`.
fn put_object(lake: &Path, ledger: u32, bytes: &[u8]) {
    let layout = stellarflow::stellar::LakeLayout {
        ledgers_per_batch: 1,
        batches_per_partition: 64000,
    };
    let path = lake.join(layout.object_key(ledger, "xdr.zst"));
    std::fs::write(path, bytes).unwrap();
}

fn object(lake: &Path, ledger: u32) -> Vec<u8> {
    let layout = stellarflow::stellar::LakeLayout {
        ledgers_per_batch: 1,
        batches_per_partition: 64000,
    };
    std::fs::read(lake.join(layout.object_key(ledger, "xdr.zst"))).unwrap()
}

async fn expect_error(endpoint: &str, ticket: Ticket, code: Code, needles: &[&str]) {
    let err = common::read_range(endpoint, ticket)
        .await
        .expect_err("the range must fail");
    let text = err.to_string();
    match &err {
        stellarflow::flight::FlightClientError::Status { code: got, .. } => {
            assert_eq!(*got, code, "{text}")
        }
        other => panic!("expected a status, got {other}"),
    }
    for needle in needles {
        assert!(text.contains(needle), "{text:?} should mention {needle:?}");
    }
}

#[tokio::test]
async fn bad_input_fails_clearly_naming_object_and_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    common::generate_lake(&lake, 100, 10);
    // 102: corrupt zstd. 103: valid zstd of truncated XDR. 104: ledger 105's
    // content under 104's key. 106: missing.
    put_object(&lake, 102, b"this is not zstd at all");
    let raw = zstd::decode_all(object(&lake, 103).as_slice()).unwrap();
    put_object(
        &lake,
        103,
        &zstd::encode_all(&raw[..raw.len() / 2], 3).unwrap(),
    );
    put_object(&lake, 104, &object(&lake, 105));
    let layout = stellarflow::stellar::LakeLayout {
        ledgers_per_batch: 1,
        batches_per_partition: 64000,
    };
    std::fs::remove_file(lake.join(layout.object_key(106, "xdr.zst"))).unwrap();

    let source = common::start_source(lake.to_str().unwrap(), &[])
        .await
        .unwrap();
    let e = source.flight_addr.to_string();
    let key = |l: u32| layout.object_key(l, "xdr.zst");
    expect_error(
        &e,
        Ticket::range(102, 102),
        Code::DataLoss,
        &[&key(102), "zstd", "102"],
    )
    .await;
    expect_error(
        &e,
        Ticket::range(103, 103),
        Code::DataLoss,
        &[&key(103), "invalid XDR", "103"],
    )
    .await;
    expect_error(
        &e,
        Ticket::range(104, 104),
        Code::DataLoss,
        &[&key(104), "105", "104"],
    )
    .await;
    expect_error(
        &e,
        Ticket::range(106, 107),
        Code::NotFound,
        &[&key(106), "ledger 106 is missing"],
    )
    .await;
    // Rows before the bad ledger arrive, then the error: never a silent skip.
    let mut stream = stellarflow::flight::fetch(&e, Ticket::range(100, 102), &Default::default())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut failure = None;
    while let Some(item) = futures::StreamExt::next(&mut stream).await {
        match item {
            Ok(batch) => seen.extend(rows(&[batch]).into_iter().map(|r| r.sequence)),
            Err(err) => failure = Some(err.to_string()),
        }
    }
    assert_eq!(seen, vec![100, 101]);
    assert!(failure.unwrap().contains(&key(102)));

    // Tickets: not JSON, start after end.
    let mut client = stellarflow::flight::connect(&e, &Default::default())
        .await
        .unwrap();
    for (ticket, needle) in [
        ("{\"start\": \"x\"}", "not valid"),
        ("{\"start\": 9, \"end\": 3}", "start 9 is after end 3"),
    ] {
        let err = client
            .do_get(arrow_flight::Ticket::new(ticket.to_string()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains(needle), "{}", err.message());
    }
    source.shutdown().await;

    // --on-error skip: bad ledgers go to quarantine.jsonl and a metric.
    let state = dir.path().join("state");
    let source = common::start_source(
        lake.to_str().unwrap(),
        &[
            ("source.on_error", "skip"),
            ("source.state_dir", state.to_str().unwrap()),
        ],
    )
    .await
    .unwrap();
    let served: Vec<u32> = rows(
        &common::read_range(&source.flight_addr.to_string(), Ticket::range(100, 109))
            .await
            .unwrap(),
    )
    .into_iter()
    .map(|r| r.sequence)
    .collect();
    assert_eq!(served, vec![100, 101, 105, 107, 108, 109]);
    let quarantine = std::fs::read_to_string(state.join("quarantine.jsonl")).unwrap();
    let skipped: Vec<u64> = quarantine
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["ledger"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(skipped, vec![102, 103, 104, 106]);
    assert!(quarantine.contains(&key(103)));
    assert_eq!(
        source
            .stats
            .skipped
            .load(std::sync::atomic::Ordering::Relaxed),
        4
    );
    let metrics = reqwest::get(format!("http://{}/metrics", source.http_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stellarflow_source_ledgers_skipped_total"),
        "{metrics}"
    );
    source.shutdown().await;
}

#[tokio::test]
async fn refuses_a_lake_of_another_network() {
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 100, 2);
    let err = common::start_source(
        dir.path().to_str().unwrap(),
        &[("source.network", "testnet")],
    )
    .await
    .err()
    .expect("network mismatch must stop start-up")
    .to_string();
    assert!(
        err.contains("network mismatch") && err.contains(".config.json") && err.contains("testnet"),
        "{err}"
    );
    // The binary says the same and exits non-zero.
    let out = std::process::Command::new(common::bin())
        .args([
            "source",
            "--datalake",
            dir.path().to_str().unwrap(),
            "--network",
            "pubnet",
            "--http-addr",
            "127.0.0.1:0",
            "--flight-addr",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("network mismatch"));
}

#[tokio::test]
async fn live_mode_waits_for_the_next_object() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    common::generate_lake(&full, 300, 6);
    let lake = dir.path().join("growing");
    common::generate_lake(&lake, 300, 6);
    let layout = stellarflow::stellar::LakeLayout {
        ledgers_per_batch: 1,
        batches_per_partition: 64000,
    };
    for l in 303..306 {
        std::fs::remove_file(lake.join(layout.object_key(l, "xdr.zst"))).unwrap();
    }
    let source = common::start_source(lake.to_str().unwrap(), &[("source.poll_interval", "50ms")])
        .await
        .unwrap();
    let mut stream = stellarflow::flight::fetch(
        &source.flight_addr.to_string(),
        Ticket::live(301),
        &Default::default(),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let appender = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        for l in 303..306 {
            let key = layout.object_key(l, "xdr.zst");
            std::fs::copy(full.join(&key), lake.join(&key)).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    while seen.len() < 5 {
        let batch = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            futures::StreamExt::next(&mut stream),
        )
        .await
        .expect("live ledgers arrive")
        .unwrap()
        .unwrap();
        seen.extend(rows(&[batch]).into_iter().map(|r| r.sequence));
    }
    assert_eq!(seen, vec![301, 302, 303, 304, 305]);
    appender.await.unwrap();
    source.shutdown().await;
}

#[tokio::test]
async fn flowctl_ledger_source_streams_raw_ledgers() {
    use stellarflow::flowctl::proto::flowctl::ledger_source_client::LedgerSourceClient;
    use stellarflow::flowctl::proto::flowctl::SourceRequest;
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 700, 5);
    let source = common::start_source(dir.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let mut client = LedgerSourceClient::connect(format!("http://{}", source.flight_addr))
        .await
        .unwrap();
    let pong = client.ping(()).await.unwrap().into_inner();
    assert!(pong.healthy);
    let request = SourceRequest {
        network: "standalone".into(),
        start_ledger: 701,
        params: [("end_ledger".to_string(), "703".to_string())].into(),
    };
    let mut stream = client
        .stream_raw_ledgers(request)
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(raw) = stream.message().await.unwrap() {
        assert_eq!(
            LedgerView::new(&decode(&raw.xdr_data)).sequence(),
            raw.ledger_sequence
        );
        assert_eq!(raw.network, "Standalone Network ; February 2017");
        got.push(raw.ledger_sequence);
    }
    assert_eq!(got, vec![701, 702, 703]);
    let wrong = SourceRequest {
        network: "pubnet".into(),
        start_ledger: 701,
        params: Default::default(),
    };
    assert_eq!(
        client.stream_raw_ledgers(wrong).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    // Shutdown over gRPC stops the source.
    client
        .shutdown(stellarflow::flowctl::proto::flowctl::ShutdownRequest {
            graceful: true,
            reason: "test".into(),
        })
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), source.stopped())
        .await
        .expect("stops");
    source.shutdown().await;
}

/// A tiny Stellar RPC that replays ledgers of a generated lake, with a 429
/// before the first getLedgers and optional garbage.
async fn fake_rpc(ledgers: Vec<(u32, Vec<u8>)>, garbage: bool) -> (String, Arc<AtomicUsize>) {
    use axum::{routing::post, Json, Router};
    use base64::Engine;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let ledgers = Arc::new(ledgers);
    let app = Router::new().route(
        "/",
        post(move |Json(body): Json<serde_json::Value>| {
            let ledgers = ledgers.clone();
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let method = body["method"].as_str().unwrap_or_default().to_string();
                let (oldest, latest) = (ledgers[0].0, ledgers[ledgers.len() - 1].0);
                let result = match method.as_str() {
                    "getNetwork" => serde_json::json!({"passphrase": "Standalone Network ; February 2017", "protocolVersion": 23}),
                    "getHealth" => serde_json::json!({"status": "healthy", "oldestLedger": oldest, "latestLedger": latest}),
                    "getLatestLedger" => serde_json::json!({"sequence": latest}),
                    "getLedgers" => {
                        if n == 3 {
                            return (axum::http::StatusCode::TOO_MANY_REQUESTS, "slow down".to_string());
                        }
                        if garbage {
                            return (axum::http::StatusCode::OK, r#"{"jsonrpc":"2.0","id":1,"result":{"ledgers":[{"sequence":1}]}}"#.to_string());
                        }
                        let params = &body["params"];
                        let limit = params["pagination"]["limit"].as_u64().unwrap_or(5) as usize;
                        let start = match params["pagination"]["cursor"].as_str() {
                            Some(c) => c.parse::<u32>().unwrap() + 1,
                            None => params["startLedger"].as_u64().unwrap() as u32,
                        };
                        let page: Vec<serde_json::Value> = ledgers
                            .iter()
                            .filter(|(s, _)| *s >= start)
                            .take(limit.min(3))
                            .map(|(s, xdr)| serde_json::json!({
                                "sequence": s, "hash": "00", "ledgerCloseTime": "0", "headerXdr": "",
                                "metadataXdr": base64::engine::general_purpose::STANDARD.encode(xdr),
                            }))
                            .collect();
                        let cursor = page.last().map(|l| l["sequence"].to_string()).unwrap_or_default();
                        serde_json::json!({"ledgers": page, "latestLedger": latest, "oldestLedger": oldest, "cursor": cursor})
                    }
                    _ => return (axum::http::StatusCode::OK, serde_json::json!({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method not found"}}).to_string()),
                };
                (axum::http::StatusCode::OK, serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": result}).to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/"), calls)
}

fn generated_ledgers(start: u32, count: u32) -> Vec<(u32, Vec<u8>)> {
    let options = stellarflow::stellar::generator::GeneratorOptions::new(start, count, 3);
    stellarflow::stellar::generator::ledgers(&options)
        .map(|l| {
            (
                LedgerView::new(&l.meta).sequence(),
                l.meta.to_xdr(Limits::none()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn rpc_backend_pages_with_cursor_and_backs_off() {
    let ledgers = generated_ledgers(900, 10);
    let expected: Vec<Vec<u8>> = ledgers.iter().map(|(_, x)| x.clone()).collect();
    let (url, calls) = fake_rpc(ledgers, false).await;
    let config = common::config(
        stellarflow::config::Role::Source,
        &[
            ("source.rpc_url", &url),
            ("source.flight_addr", "127.0.0.1:0"),
            ("source.http_addr", "127.0.0.1:0"),
        ],
    );
    let source = stellarflow::source::start(&config).await.unwrap();
    let served = rows(
        &common::read_range(&source.flight_addr.to_string(), Ticket::range(901, 908))
            .await
            .unwrap(),
    );
    assert_eq!(
        served.iter().map(|r| r.sequence).collect::<Vec<_>>(),
        (901..=908).collect::<Vec<_>>()
    );
    assert_eq!(
        served.iter().map(|r| r.xdr.clone()).collect::<Vec<_>>(),
        expected[1..9].to_vec()
    );
    // getNetwork, then pages of 3 (cursor paging) and one 429 retried.
    assert!(calls.load(Ordering::SeqCst) >= 5);
    source.shutdown().await;
}

#[tokio::test]
async fn rpc_backend_reports_a_malformed_reply() {
    let (url, _) = fake_rpc(generated_ledgers(900, 3), true).await;
    let config = common::config(
        stellarflow::config::Role::Source,
        &[
            ("source.rpc_url", &url),
            ("source.flight_addr", "127.0.0.1:0"),
            ("source.http_addr", "127.0.0.1:0"),
        ],
    );
    let source = stellarflow::source::start(&config).await.unwrap();
    expect_error(
        &source.flight_addr.to_string(),
        Ticket::range(900, 902),
        Code::DataLoss,
        &["malformed RPC reply", "getLedgers", "900"],
    )
    .await;
    source.shutdown().await;
}

/// zstd bombs: objects of a few KB that decompress to 64 MiB, whether they
/// declare their size or not, are refused, naming the object, within the
/// decompression budget (16 MiB over a read-ahead of 2: 8 MiB an object),
/// and the ledgers around them are still served.
#[tokio::test]
async fn zstd_bombs_are_refused_within_the_decompression_budget() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    common::generate_lake(&lake, 100, 20);
    let zeros = vec![0u8; 64 << 20];
    let declared = zstd::encode_all(zeros.as_slice(), 3).unwrap();
    let undeclared = {
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        encoder.include_contentsize(false).unwrap();
        encoder.write_all(&zeros).unwrap();
        encoder.finish().unwrap()
    };
    assert!(declared.len() < 100_000 && undeclared.len() < 100_000);
    for ledger in 105..109 {
        put_object(&lake, ledger, &declared);
    }
    for ledger in 109..113 {
        put_object(&lake, ledger, &undeclared);
    }
    let source = common::start_source(
        lake.to_str().unwrap(),
        &[
            ("source.max_decompressed_bytes", "16777216"),
            ("source.prefetch", "2"),
        ],
    )
    .await
    .unwrap();
    let e = source.flight_addr.to_string();
    let layout = stellarflow::stellar::LakeLayout {
        ledgers_per_batch: 1,
        batches_per_partition: 64000,
    };
    for ledger in [105, 109] {
        let object = layout.object_key(ledger, "xdr.zst");
        expect_error(
            &e,
            Ticket::range(ledger, ledger),
            Code::DataLoss,
            &[&object, "more than an object may take"],
        )
        .await;
    }
    let served = common::read_range(&e, Ticket::range(113, 119))
        .await
        .unwrap();
    assert_eq!(rows(&served).len(), 7);
    source.shutdown().await;
}
