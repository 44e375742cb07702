//! The processor as a role over real Arrow Flight on loopback: the events
//! it serves equal the library's, filters keep event ids, it resumes
//! without gaps or duplicates when the source restarts, it discovers the
//! source through the control plane, and contract-data is served too.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use stellarflow::config::Role;
use stellarflow::flight::Ticket;
use stellarflow::processor::ttp::{self, Mode};
use stellarflow::stellar::generator::{self, GeneratorOptions};

const SEED: u64 = 7; // common::generate_lake's seed

fn library_ids(start: u32, count: u32, from: u32, to: u32) -> Vec<String> {
    let mut options = GeneratorOptions::new(start, count, SEED);
    options.seed = SEED;
    generator::ledgers(&options)
        .filter(|l| {
            (from..=to).contains(&stellarflow::stellar::LedgerView::new(&l.meta).sequence())
        })
        .flat_map(|l| ttp::extract(&l.meta, &options.network, Mode::Auto).unwrap())
        .map(|e| format!("{}|{}|{}", e.event_id(), e.kind.as_str(), e.amount))
        .collect()
}

fn served_ids(batches: &[stellarflow::flight::LedgerBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let (ids, kinds, amounts) = (
            common::strings(&b.batch, "event_id"),
            common::strings(&b.batch, "event_type"),
            common::strings(&b.batch, "amount"),
        );
        for i in 0..ids.len() {
            out.push(format!("{}|{}|{}", ids[i], kinds[i], amounts[i]));
        }
    }
    out
}

#[tokio::test]
async fn serves_the_library_events_over_flight_in_order() {
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 1000, 40);
    let source = common::start_source(dir.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let processor = common::start_processor(
        &source.flight_addr.to_string(),
        &[("processor.verify", "true")],
    )
    .await
    .unwrap();
    let batches = common::read_range(
        &processor.flight_addr.to_string(),
        Ticket::range(1005, 1034),
    )
    .await
    .unwrap();
    assert_eq!(served_ids(&batches), library_ids(1000, 40, 1005, 1034));
    // Batches tile the range, ledger by ledger.
    let mut next = 1005;
    for b in &batches {
        assert_eq!(b.meta.first_ledger, next);
        next = b.meta.last_ledger + 1;
        assert_eq!(b.batch.schema().metadata["stellarflow.schema"], "ttp_event");
    }
    assert_eq!(next, 1035);
    assert_eq!(
        processor
            .stats
            .ledgers
            .load(std::sync::atomic::Ordering::Relaxed),
        30
    );
    processor.shutdown().await;
    source.shutdown().await;
}

#[tokio::test]
async fn filters_keep_event_ids() {
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 2000, 20);
    let source = common::start_source(dir.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let endpoint = source.flight_addr.to_string();
    let all = common::start_processor(&endpoint, &[]).await.unwrap();
    let everything = served_ids(
        &common::read_range(&all.flight_addr.to_string(), Ticket::range(2000, 2019))
            .await
            .unwrap(),
    );
    let filtered = common::start_processor(
        &endpoint,
        &[
            ("processor.event_types", "transfer,mint"),
            ("processor.assets", "native"),
        ],
    )
    .await
    .unwrap();
    let batches = common::read_range(&filtered.flight_addr.to_string(), Ticket::range(2000, 2019))
        .await
        .unwrap();
    let kept = served_ids(&batches);
    assert!(!kept.is_empty());
    let everything_set: BTreeSet<&String> = everything.iter().collect();
    for row in &kept {
        assert!(
            everything_set.contains(row),
            "{row} keeps its id under filters"
        );
        let kind = row.split('|').nth(1).unwrap();
        assert!(kind == "transfer" || kind == "mint", "{row}");
    }
    for b in &batches {
        assert!(common::strings(&b.batch, "asset")
            .iter()
            .all(|a| a == "native"));
    }
    // Accounts and contracts filters.
    let holder = batches
        .iter()
        .flat_map(|b| common::strings(&b.batch, "to"))
        .find(|t| t.starts_with('G'))
        .unwrap();
    let by_account = common::start_processor(&endpoint, &[("processor.accounts", holder.as_str())])
        .await
        .unwrap();
    let rows = common::read_range(
        &by_account.flight_addr.to_string(),
        Ticket::range(2000, 2019),
    )
    .await
    .unwrap();
    for b in &rows {
        let (from, to) = (
            common::strings(&b.batch, "from"),
            common::strings(&b.batch, "to"),
        );
        assert!(from
            .iter()
            .zip(&to)
            .all(|(f, t)| f == &holder || t == &holder));
    }
    for p in [all, filtered, by_account] {
        p.shutdown().await;
    }
    source.shutdown().await;
}

#[tokio::test]
async fn resumes_without_gap_or_duplicate_when_the_source_restarts() {
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 3000, 120);
    let lake = dir.path().to_str().unwrap().to_string();
    let source = common::start_source(&lake, &[("source.prefetch", "1")])
        .await
        .unwrap();
    let source_addr = source.flight_addr.to_string();
    let processor = common::start_processor(&source_addr, &[("processor.workers", "1")])
        .await
        .unwrap();
    let mut stream = stellarflow::flight::fetch(
        &processor.flight_addr.to_string(),
        Ticket::range(3000, 3119),
        &Default::default(),
    )
    .await
    .unwrap();
    let mut batches = Vec::new();
    // Read a little, then take the source away mid-range.
    while batches.len() < 2 {
        batches.push(stream.next().await.unwrap().unwrap());
    }
    source.shutdown().await;
    let restarter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        common::start_source(&lake, &[("source.flight_addr", &source_addr)])
            .await
            .unwrap()
    });
    while let Some(item) = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("resumes")
    {
        batches.push(item.expect("the processor hides the source restart"));
    }
    let restarted = restarter.await.unwrap();
    assert_eq!(
        served_ids(&batches),
        library_ids(3000, 120, 3000, 3119),
        "no gap, no duplicate"
    );
    processor.shutdown().await;
    restarted.shutdown().await;
}

#[tokio::test]
async fn upstream_refusals_pass_through_with_their_status() {
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 4000, 5);
    let source = common::start_source(dir.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let processor = common::start_processor(&source.flight_addr.to_string(), &[])
        .await
        .unwrap();
    let err = common::read_range(
        &processor.flight_addr.to_string(),
        Ticket::range(4003, 4010),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            stellarflow::flight::FlightClientError::Status {
                code: tonic::Code::NotFound,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("ledger 4005 is missing") && text.contains("source"),
        "{text}"
    );
    processor.shutdown().await;
    source.shutdown().await;
}

#[tokio::test]
async fn contract_data_kind_serves_soroban_changes() {
    use base64::Engine;
    use stellar_xdr::{Limits, ReadXdr, ScVal};
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 5000, 30);
    let source = common::start_source(dir.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let processor = common::start_processor(
        &source.flight_addr.to_string(),
        &[("processor.kind", "contract-data")],
    )
    .await
    .unwrap();
    let batches = common::read_range(
        &processor.flight_addr.to_string(),
        Ticket::range(5000, 5029),
    )
    .await
    .unwrap();
    let mut kinds = BTreeSet::new();
    let mut rows = 0;
    for b in &batches {
        assert_eq!(
            b.batch.schema().metadata["stellarflow.schema"],
            "contract_data"
        );
        let (types, keys, values, contracts) = (
            common::strings(&b.batch, "change_type"),
            common::strings(&b.batch, "key_xdr"),
            common::strings(&b.batch, "value_xdr"),
            common::strings(&b.batch, "contract_id"),
        );
        for i in 0..types.len() {
            kinds.insert(types[i].clone());
            assert!(contracts[i].starts_with('C'));
            let key = base64::engine::general_purpose::STANDARD
                .decode(&keys[i])
                .unwrap();
            ScVal::from_xdr(key, Limits::depth(100)).expect("key is ScVal XDR");
            let value = base64::engine::general_purpose::STANDARD
                .decode(&values[i])
                .unwrap();
            assert!(matches!(
                ScVal::from_xdr(value, Limits::depth(100)).unwrap(),
                ScVal::I128(_)
            ));
            rows += 1;
        }
    }
    assert!(rows > 20, "{rows} contract-data changes");
    assert!(
        kinds.contains("updated") && kinds.contains("restored"),
        "{kinds:?}"
    );
    processor.shutdown().await;
    source.shutdown().await;
}

#[tokio::test]
async fn discovers_the_source_through_the_control_plane() {
    let cp = stellarflow::controlplane::start(&common::config(
        Role::Controlplane,
        &[
            ("controlplane.grpc_addr", "127.0.0.1:0"),
            ("controlplane.http_addr", "127.0.0.1:0"),
        ],
    ))
    .await
    .unwrap();
    let endpoint = cp.grpc_addr.to_string();
    let flowctl = [
        ("flowctl.enabled", "true"),
        ("flowctl.endpoint", endpoint.as_str()),
        ("flowctl.heartbeat_interval", "200ms"),
    ];
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 6000, 10);
    let mut source_flags = flowctl.to_vec();
    source_flags.push(("source.datalake", dir.path().to_str().unwrap()));
    source_flags.extend([
        ("source.flight_addr", "127.0.0.1:0"),
        ("source.http_addr", "127.0.0.1:0"),
    ]);
    let source = stellarflow::source::start(&common::config(Role::Source, &source_flags))
        .await
        .unwrap();
    // No --source-endpoint: the processor must find the source's random port.
    let mut processor_flags = flowctl.to_vec();
    processor_flags.extend([
        ("processor.flight_addr", "127.0.0.1:0"),
        ("processor.http_addr", "127.0.0.1:0"),
    ]);
    let processor =
        stellarflow::processor::start(&common::config(Role::Processor, &processor_flags))
            .await
            .unwrap();
    let batches = common::read_range(
        &processor.flight_addr.to_string(),
        Ticket::range(6000, 6009),
    )
    .await
    .unwrap();
    assert_eq!(served_ids(&batches), library_ids(6000, 10, 6000, 6009));
    // Both are registered with their roles, event types and endpoints, and
    // heartbeats carry the processor's counters.
    let records = common::eventually(
        "a processor heartbeat counting its 10 ledgers",
        Duration::from_secs(10),
        || {
            let records = cp.registry.records();
            let counted = records.iter().any(|r| {
                r.info
                    .as_ref()
                    .is_some_and(|i| i.component_id == "ttp-arrow-processor")
                    && r.status
                        .as_ref()
                        .is_some_and(|s| s.metrics.get("ledgers_processed_total") == Some(&10.0))
            });
            counted.then_some(records)
        },
    )
    .await;
    let processor_record = records
        .iter()
        .find(|r| r.info.as_ref().unwrap().component_id == "ttp-arrow-processor")
        .expect("processor registered");
    let info = processor_record.info.as_ref().unwrap();
    assert_eq!(
        info.input_event_types,
        vec!["stellar_ledger_service.StellarLedger"]
    );
    assert_eq!(info.output_event_types, vec!["ttp_event_service.TTPEvent"]);
    assert_eq!(
        info.metadata["flight_endpoint"],
        processor.flight_addr.to_string()
    );
    let metrics = &processor_record.status.as_ref().unwrap().metrics;
    assert_eq!(metrics.get("ledgers_processed_total"), Some(&10.0));
    assert!(
        metrics
            .get("events_processed_total")
            .copied()
            .unwrap_or(0.0)
            > 100.0
    );
    assert!(records
        .iter()
        .any(|r| r.info.as_ref().unwrap().component_id == "stellar-arrow-source"));
    processor.shutdown().await;
    source.shutdown().await;
    cp.shutdown().await;
}

#[tokio::test]
async fn bad_filters_are_configuration_errors() {
    for (key, value, needle) in [
        ("processor.event_types", "swap", "--event-types"),
        ("processor.assets", "USD", "--assets"),
        ("processor.accounts", "nobody", "--accounts"),
        ("processor.contracts", "GBAD", "--contracts"),
    ] {
        let err = common::start_processor("127.0.0.1:1", &[(key, value)])
            .await
            .err()
            .unwrap();
        assert!(
            err.downcast_ref::<stellarflow::config::ConfigError>()
                .is_some(),
            "{err}"
        );
        assert!(
            err.to_string().contains(needle) && err.to_string().contains(value),
            "{err}"
        );
    }
}

/// Every row of `batches` as text, in order, and the ledger ranges the
/// batches cover.
fn rows_and_ranges(batches: &[stellarflow::flight::LedgerBatch]) -> (Vec<String>, Vec<u32>) {
    let mut rows = Vec::new();
    let mut covered = Vec::new();
    for b in batches {
        covered.extend(b.meta.first_ledger..=b.meta.last_ledger);
        let columns: Vec<_> = b
            .batch
            .columns()
            .iter()
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c, &Default::default()).unwrap())
            .collect();
        for row in 0..b.batch.num_rows() {
            let cells: Vec<String> = columns.iter().map(|c| c.value(row).to_string()).collect();
            rows.push(cells.join("|"));
        }
    }
    (rows, covered)
}

#[tokio::test]
async fn lake_objects_and_ledger_rows_give_the_same_events() {
    // Three ledgers per object, and a range that starts and ends inside
    // objects: the processor must leave out the ledgers outside it.
    let dir = tempfile::tempdir().unwrap();
    let mut options = GeneratorOptions::new(8000, 30, SEED);
    options.ledgers_per_batch = 3;
    generator::write_lake(&options, dir.path(), None).unwrap();
    let lake = dir.path().to_str().unwrap();
    let state = dir.path().join("state");

    // The source sends objects when asked for them, unless it must check
    // each ledger itself (`--on-error skip`).
    let source = common::start_source(lake, &[]).await.unwrap();
    let checking = common::start_source(
        lake,
        &[
            ("source.on_error", "skip"),
            ("source.state_dir", state.to_str().unwrap()),
        ],
    )
    .await
    .unwrap();
    let objects = Ticket::range(8004, 8022).with_form(stellarflow::flight::Form::Objects);
    let schema_of = |batches: &[stellarflow::flight::LedgerBatch]| {
        batches[0].batch.schema().metadata()["stellarflow.schema"].clone()
    };
    let served = common::read_range(&source.flight_addr.to_string(), objects)
        .await
        .unwrap();
    assert_eq!(schema_of(&served), "stellar_ledger_object");
    assert_eq!(
        rows_and_ranges(&served).1,
        (8004..=8022).collect::<Vec<_>>()
    );
    let checked = common::read_range(&checking.flight_addr.to_string(), objects)
        .await
        .unwrap();
    assert_eq!(schema_of(&checked), "stellar_ledger");

    let from_objects = common::start_processor(&source.flight_addr.to_string(), &[])
        .await
        .unwrap();
    let from_rows = common::start_processor(&checking.flight_addr.to_string(), &[])
        .await
        .unwrap();
    let read = |p: &stellarflow::processor::Running| {
        let endpoint = p.flight_addr.to_string();
        async move {
            common::read_range(&endpoint, Ticket::range(8004, 8022))
                .await
                .unwrap()
        }
    };
    let (events, covered) = rows_and_ranges(&read(&from_objects).await);
    let (expected, expected_covered) = rows_and_ranges(&read(&from_rows).await);
    assert!(!expected.is_empty());
    assert_eq!(events, expected, "the same events, column for column");
    assert_eq!(covered, expected_covered);
    assert_eq!(covered, (8004..=8022).collect::<Vec<_>>());
    let ids: Vec<String> = library_ids(8000, 30, 8004, 8022);
    assert_eq!(events.len(), ids.len());
    for p in [from_objects, from_rows] {
        p.shutdown().await;
    }
    source.shutdown().await;
    checking.shutdown().await;
}

#[tokio::test]
async fn corrupt_objects_are_refused_by_the_processor_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    common::generate_lake(dir.path(), 9000, 10);
    let layout = stellarflow::stellar::LakeLayout {
        ledgers_per_batch: 1,
        batches_per_partition: 64000,
    };
    let key = |l: u32| layout.object_key(l, "xdr.zst");
    let path = |l: u32| dir.path().join(key(l));
    // 9002: not zstd. 9003: valid zstd of truncated XDR. 9004: ledger
    // 9005's object under 9004's key.
    std::fs::write(path(9002), b"this is not zstd at all").unwrap();
    let raw = zstd::decode_all(std::fs::read(path(9003)).unwrap().as_slice()).unwrap();
    std::fs::write(
        path(9003),
        zstd::encode_all(&raw[..raw.len() / 2], 3).unwrap(),
    )
    .unwrap();
    std::fs::copy(path(9005), path(9004)).unwrap();
    let source = common::start_source(dir.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let processor = common::start_processor(&source.flight_addr.to_string(), &[])
        .await
        .unwrap();
    let endpoint = processor.flight_addr.to_string();
    for (ledger, needle) in [(9002, "zstd"), (9003, "XDR"), (9004, "9005")] {
        let err = common::read_range(&endpoint, Ticket::range(ledger, ledger))
            .await
            .expect_err("a corrupt object must fail the range");
        let text = err.to_string();
        assert!(
            matches!(
                err,
                stellarflow::flight::FlightClientError::Status {
                    code: tonic::Code::DataLoss,
                    ..
                }
            ),
            "{text}"
        );
        for wanted in [key(ledger).as_str(), needle, &ledger.to_string()] {
            assert!(text.contains(wanted), "{text:?} should mention {wanted:?}");
        }
    }
    // Ledgers before a bad object may arrive first (those batched with it
    // do not), then the error: never a silent skip, never a ledger past it.
    let mut stream =
        stellarflow::flight::fetch(&endpoint, Ticket::range(9000, 9002), &Default::default())
            .await
            .unwrap();
    let mut covered = Vec::new();
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => covered.extend(b.meta.first_ledger..=b.meta.last_ledger),
            Err(e) => failure = Some(e.to_string()),
        }
    }
    assert!([9000, 9001].starts_with(&covered), "{covered:?}");
    assert!(failure.unwrap().contains(&key(9002)));
    processor.shutdown().await;
    source.shutdown().await;
}
