//! Helpers shared by the integration tests: configurations built in code,
//! in-process servers on free ports, the binary under test, fixtures, and
//! the Python tools interoperability tests use.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use stellarflow::config::{self, Config, FlagValue, LoadOptions, Role};

/// The `stellarflow` executable cargo built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stellarflow"))
}

/// A role's configuration from defaults plus `flags` (key, value) pairs;
/// the process environment is ignored so tests are hermetic.
pub fn config(role: Role, flags: &[(&'static str, &str)]) -> Config {
    try_config(role, flags).unwrap_or_else(|e| panic!("test configuration rejected: {e}"))
}

/// Like [`config`], for tests of what the configuration refuses.
pub fn try_config(
    role: Role,
    flags: &[(&'static str, &str)],
) -> Result<Config, config::ConfigError> {
    stellarflow::runtime::install_tls_provider();
    let flags = flags
        .iter()
        .map(|(key, value)| FlagValue::new(key, "--test", *value))
        .collect();
    config::load(
        role,
        LoadOptions {
            profile: None,
            file: None,
            flags,
            env: &|_| None,
        },
    )
}

/// A role's sockets bound on free ports now, for a test that must know an
/// address before the role exists: the role is later started on these very
/// sockets (`start_on`), so no other process can take the port in between.
pub async fn bind_free(what: &'static str) -> stellarflow::listen::Bound {
    stellarflow::listen::bind_role("127.0.0.1:0", what, "127.0.0.1:0", None)
        .await
        .expect("free ports")
}

/// Polls `check` every 50 ms until it gives a value, and panics naming
/// `what` after `timeout`: for conditions that become true (a heartbeat
/// arrived), where a fixed sleep would fail on a slow machine.
pub async fn eventually<T>(
    what: &str,
    timeout: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Says that the running test skips, and why, where the user sees it:
/// straight to stderr, past the test harness's capture (which would hide
/// `eprintln!` from a passing test).
pub fn skip(reason: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

/// `../shared/stellar-fixtures`, or `None` after saying the test skips.
/// In CI, which always has them, their absence is a failure.
pub fn fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/stellar-fixtures");
    if dir.join("lake/.config.json").is_file() {
        return Some(dir);
    }
    let reason = format!(
        "{} is absent; this test on real pubnet ledgers is skipped",
        dir.display()
    );
    if in_ci() {
        panic!("{reason} (CI must have ../shared beside the clone)");
    }
    skip(&reason);
    None
}

/// Whether we run under CI, where every tool `.ci/run` installs must exist.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A Python interpreter that can import every module in `modules`. Outside
/// CI a missing module skips the test with a printed reason; under CI it
/// fails, because `.ci/run` installs them.
pub fn python_with(modules: &[&str]) -> Option<String> {
    for python in ["python3", "python"] {
        let script = modules
            .iter()
            .map(|m| format!("import {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        let ok = Command::new(python)
            .args(["-c", &script])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python.to_string());
        }
    }
    let reason = format!(
        "Python modules {modules:?} are not installed (pip install -r tests/python/requirements.txt)"
    );
    if in_ci() {
        panic!("{reason}; .ci/run should have installed them");
    }
    skip(&reason);
    None
}

/// Path of a file under `tests/`.
pub fn test_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// Generates a small synthetic lake into `dir` (standalone network).
pub fn generate_lake(dir: &std::path::Path, start: u32, count: u32) {
    let options = stellarflow::stellar::generator::GeneratorOptions::new(start, count, 7);
    stellarflow::stellar::generator::write_lake(&options, dir, None).expect("generate lake");
}

/// Starts a source in this process over `lake` on free ports.
pub async fn start_source(
    lake: &str,
    extra: &[(&'static str, &str)],
) -> anyhow::Result<stellarflow::source::Running> {
    let mut flags = vec![
        ("source.datalake", lake),
        ("source.flight_addr", "127.0.0.1:0"),
        ("source.http_addr", "127.0.0.1:0"),
    ];
    flags.extend_from_slice(extra);
    stellarflow::source::start(&config(Role::Source, &flags)).await
}

/// Reads a whole range from a Flight endpoint with our own client.
pub async fn read_range(
    endpoint: &str,
    ticket: stellarflow::flight::Ticket,
) -> Result<Vec<stellarflow::flight::LedgerBatch>, stellarflow::flight::FlightClientError> {
    use futures::TryStreamExt;
    stellarflow::flight::fetch(endpoint, ticket, &Default::default())
        .await?
        .try_collect()
        .await
}

/// One real ledger of the fixture lake, decoded.
pub fn fixture_ledger(fixtures: &std::path::Path, sequence: u32) -> stellar_xdr::LedgerCloseMeta {
    let layout = stellarflow::stellar::LakeLayout {
        ledgers_per_batch: 1,
        batches_per_partition: 64000,
    };
    let path = fixtures
        .join("lake")
        .join(layout.object_key(sequence, "xdr.zst"));
    let compressed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let raw = stellarflow::stellar::decompress(&compressed, 1 << 30).unwrap();
    let mut batch = stellarflow::stellar::decode_batch(raw.into(), 500).unwrap();
    batch.ledgers.remove(0).meta
}

/// Every ledger of the fixture lake.
pub const FIXTURE_LEDGERS: [u32; 11] = [
    6154623, 16154623, 26154623, 36154623, 46154623, 51000294, 53312000, 57500008, 63092988,
    63092990, 63092996,
];

/// Starts a processor in this process reading from `source`.
pub async fn start_processor(
    source: &str,
    extra: &[(&'static str, &str)],
) -> anyhow::Result<stellarflow::processor::Running> {
    let mut flags = vec![
        ("processor.source_endpoint", source),
        ("processor.flight_addr", "127.0.0.1:0"),
        ("processor.http_addr", "127.0.0.1:0"),
    ];
    flags.extend_from_slice(extra);
    stellarflow::processor::start(&config(Role::Processor, &flags)).await
}

/// A column of a batch as strings (nulls as "").
pub fn strings(batch: &arrow::array::RecordBatch, name: &str) -> Vec<String> {
    use arrow::array::{Array, StringArray};
    let column = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    let column = column.as_any().downcast_ref::<StringArray>().unwrap();
    (0..column.len())
        .map(|i| {
            if column.is_null(i) {
                String::new()
            } else {
                column.value(i).to_string()
            }
        })
        .collect()
}

/// The PostgreSQL the tests use; a test that needs it fails with the reason
/// when it is unreachable (`.ci/run` starts it).
pub fn postgres_url() -> String {
    std::env::var("STELLARFLOW_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A connected PostgreSQL client, or a panic that says why.
pub async fn postgres() -> tokio_postgres::Client {
    let url = postgres_url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed by this test and is unreachable: {e} (run scripts/test, which starts it)"));
    tokio::spawn(connection);
    client
}

/// A table name unique to this test run.
pub fn unique_table(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Every event of a generated lake (seed 7) in ledgers `from..=to`, as
/// (event_id, amount).
pub fn generated_events(start: u32, count: u32, from: u32, to: u32) -> Vec<(String, String)> {
    use stellarflow::processor::ttp::{self, Mode};
    let options = stellarflow::stellar::generator::GeneratorOptions::new(start, count, 7);
    stellarflow::stellar::generator::ledgers(&options)
        .filter(|l| {
            (from..=to).contains(&stellarflow::stellar::LedgerView::new(&l.meta).sequence())
        })
        .flat_map(|l| ttp::extract(&l.meta, &options.network, Mode::Auto).unwrap())
        .map(|e| (e.event_id(), e.amount.to_string()))
        .collect()
}

/// (event_id, amount) of every row in the Parquet files under `dir`.
pub fn parquet_events(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in files_with(dir, "parquet") {
        let file = std::fs::File::open(&path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            out.extend(
                strings(&batch, "event_id")
                    .into_iter()
                    .zip(strings(&batch, "amount")),
            );
        }
    }
    out
}

/// (event_id, amount) of every line of the JSONL files under `dir`.
pub fn jsonl_events(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in files_with(dir, "jsonl") {
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push((
                v["event_id"].as_str().unwrap().to_string(),
                v["amount"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// Files under `dir` with extension `ext` (recursively).
pub fn files_with(dir: &std::path::Path, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// A ledger's token transfers, extracted by both decoders from its XDR: the
/// fast decoder must agree with the reference to the last field (or both
/// must refuse), so every hand-built case also checks the fast path.
pub fn extract_both(
    meta: &stellar_xdr::LedgerCloseMeta,
    network: &stellarflow::stellar::Network,
    mode: stellarflow::processor::ttp::Mode,
) -> Result<Vec<stellarflow::processor::ttp::TtpEvent>, String> {
    use stellar_xdr::{Limits, WriteXdr};
    use stellarflow::processor::ttp::{self, compare_decoders};
    use stellarflow::stellar::DEFAULT_XDR_DEPTH;
    let xdr = meta.to_xdr(Limits::none()).map_err(|e| e.to_string())?;
    if let Err(disagreement) = compare_decoders(&xdr, network, mode, DEFAULT_XDR_DEPTH) {
        panic!("the fast decoder disagrees with the reference: {disagreement}");
    }
    ttp::extract(meta, network, mode).map_err(|e| e.to_string())
}

/// A V0 `LedgerCloseMeta` of these transactions, for hand-built rule
/// tests: only the fields the token-transfer rules read are set, and the
/// stored header hash is right.
pub fn v0_ledger(
    protocol: u32,
    sequence: u32,
    close_time: u64,
    envelopes: Vec<stellar_xdr::TransactionEnvelope>,
    processing: Vec<stellar_xdr::TransactionResultMeta>,
) -> stellar_xdr::LedgerCloseMeta {
    use stellar_xdr::*;
    let zero = || Hash([0; 32]);
    let header = LedgerHeader {
        ledger_version: protocol,
        previous_ledger_hash: zero(),
        scp_value: StellarValue {
            tx_set_hash: zero(),
            close_time: TimePoint(close_time),
            upgrades: Default::default(),
            ext: StellarValueExt::Basic,
        },
        tx_set_result_hash: zero(),
        bucket_list_hash: zero(),
        ledger_seq: sequence,
        total_coins: 0,
        fee_pool: 0,
        inflation_seq: 0,
        id_pool: 0,
        base_fee: 100,
        base_reserve: 5_000_000,
        max_tx_set_size: 100,
        skip_list: [zero(), zero(), zero(), zero()],
        ext: LedgerHeaderExt::V0,
    };
    LedgerCloseMeta::V0(LedgerCloseMetaV0 {
        ledger_header: LedgerHeaderHistoryEntry {
            hash: Hash(stellarflow::stellar::ledger::header_hash(&header)),
            header,
            ext: LedgerHeaderHistoryEntryExt::V0,
        },
        tx_set: TransactionSet {
            previous_ledger_hash: zero(),
            txs: envelopes.try_into().expect("at most u32::MAX envelopes"),
        },
        tx_processing: processing.try_into().expect("at most u32::MAX results"),
        upgrades_processing: Default::default(),
        scp_info: Default::default(),
    })
}

/// An account ledger entry holding `balance` stroops of XLM.
pub fn account_entry(account: stellar_xdr::AccountId, balance: i64) -> stellar_xdr::LedgerEntry {
    use stellar_xdr::*;
    LedgerEntry {
        last_modified_ledger_seq: 1,
        data: LedgerEntryData::Account(AccountEntry {
            account_id: account,
            balance,
            seq_num: SequenceNumber(1),
            num_sub_entries: 0,
            inflation_dest: None,
            flags: 0,
            home_domain: String32(Default::default()),
            thresholds: Thresholds([1, 0, 0, 0]),
            signers: Default::default(),
            ext: AccountEntryExt::V0,
        }),
        ext: LedgerEntryExt::V0,
    }
}

/// Asserts that a finished command succeeded, showing its stderr if not.
pub fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a certificate it signed for `localhost` and 127.0.0.1, good for
/// serving and for presenting as a client (mutual TLS), written as PEM
/// files into `dir`: their paths (ca, cert, key).
pub fn certificates(dir: &std::path::Path) -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: a leaf whose issuer equals its subject looks self-signed.
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "stellarflow test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".into()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    (
        write("ca.pem", ca.pem()),
        write("cert.pem", cert.pem()),
        write("key.pem", key.serialize_pem()),
    )
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A config file in `dir` that puts every role of a pipeline on ports the
/// kernel picks (each role reports what it bound), so tests that run whole
/// pipelines neither collide with each other nor depend on fixed ports.
pub fn any_ports(dir: &std::path::Path) -> PathBuf {
    let mut config = String::new();
    for (section, data) in [
        ("controlplane", "grpc_addr"),
        ("source", "flight_addr"),
        ("processor", "flight_addr"),
        ("sink", "flight_addr"),
    ] {
        config.push_str(&format!(
            "[{section}]\n{data} = \"127.0.0.1:0\"\nhttp_addr = \"127.0.0.1:0\"\n"
        ));
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("any-ports.toml");
    std::fs::write(&path, config).unwrap();
    path
}
