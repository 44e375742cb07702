//! Configuration: layer precedence and provenance in process, and every
//! validation error through the real binary (exit code 2, one line naming
//! the variable, the value and what is allowed).

mod common;

use std::collections::HashMap;
use std::process::Command;

use stellarflow::config::{self, FlagValue, LoadOptions, Origin, Role};

fn load_with(
    role: Role,
    profile: Option<&str>,
    file: Option<&std::path::Path>,
    env: &[(&str, &str)],
    flags: Vec<FlagValue>,
) -> Result<config::Config, config::ConfigError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| env.get(name).cloned();
    config::load(
        role,
        LoadOptions {
            profile: profile.map(String::from),
            file: file.map(|f| f.to_path_buf()),
            flags,
            env: &lookup,
        },
    )
}

fn origin(config: &config::Config, key: &str) -> Origin {
    config
        .resolved
        .iter()
        .find(|r| r.setting.key == key)
        .unwrap()
        .origin
        .clone()
}

#[test]
fn layers_apply_in_order_and_remember_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stellarflow.toml");
    std::fs::write(
        &file,
        "[flowctl]\nheartbeat_interval = \"7s\"\nendpoint = \"file-host:1\"\n[connection_pool]\nmax_connections = 30\n[source]\nprefetch = 3\n",
    )
    .unwrap();

    // Profile only.
    let c = load_with(Role::Source, Some("development"), None, &[], vec![]).unwrap();
    assert_eq!(c.settings.flowctl.heartbeat_interval.as_secs(), 5);
    assert_eq!(
        origin(&c, "flowctl.heartbeat_interval"),
        Origin::Profile("development".into())
    );
    assert_eq!(c.settings.connection_pool.max_connections, 5);
    assert_eq!(origin(&c, "flowctl.discovery_interval"), Origin::Default);

    // File beats profile.
    let c = load_with(Role::Source, Some("development"), Some(&file), &[], vec![]).unwrap();
    assert_eq!(c.settings.flowctl.heartbeat_interval.as_secs(), 7);
    assert_eq!(c.settings.connection_pool.max_connections, 30);
    assert!(matches!(
        origin(&c, "flowctl.heartbeat_interval"),
        Origin::File(_)
    ));

    // Global env beats file, component env beats global env, flag beats all.
    let env = [
        ("FLOWCTL_ENDPOINT", "global-host:2"),
        ("FLOWCTL_HEARTBEAT_INTERVAL", "3s"),
        ("STELLAR_ARROW_SOURCE_FLOWCTL_HEARTBEAT_INTERVAL", "2s"),
        ("TTP_ARROW_PROCESSOR_FLOWCTL_HEARTBEAT_INTERVAL", "9s"),
        ("STELLAR_ARROW_SOURCE_PREFETCH", "8"),
    ];
    let c = load_with(Role::Source, Some("development"), Some(&file), &env, vec![]).unwrap();
    assert_eq!(c.settings.flowctl.endpoint, "global-host:2");
    assert_eq!(
        origin(&c, "flowctl.endpoint"),
        Origin::Env("FLOWCTL_ENDPOINT".into())
    );
    assert_eq!(
        c.settings.flowctl.heartbeat_interval.as_secs(),
        2,
        "component env wins for its own role"
    );
    assert_eq!(
        origin(&c, "flowctl.heartbeat_interval"),
        Origin::Env("STELLAR_ARROW_SOURCE_FLOWCTL_HEARTBEAT_INTERVAL".into())
    );
    assert_eq!(c.settings.source.prefetch, 8);

    let flags = vec![FlagValue::new("source.prefetch", "--prefetch", "4")];
    let c = load_with(Role::Source, Some("development"), Some(&file), &env, flags).unwrap();
    assert_eq!(c.settings.source.prefetch, 4);
    assert_eq!(
        origin(&c, "source.prefetch"),
        Origin::Flag("--prefetch".into())
    );

    // Another role does not see the source's component env.
    let c = load_with(Role::Processor, None, None, &env, vec![]).unwrap();
    assert_eq!(c.settings.flowctl.heartbeat_interval.as_secs(), 9);

    // `config show` prints every value with its layer name.
    let c = load_with(Role::Source, Some("development"), Some(&file), &env, vec![]).unwrap();
    let shown = c.render();
    for needle in [
        "default",
        "profile",
        "file",
        "env:FLOWCTL_ENDPOINT",
        "env:STELLAR_ARROW_SOURCE_PREFETCH",
    ] {
        assert!(
            shown.contains(needle),
            "config show lacks {needle}:\n{shown}"
        );
    }
}

#[test]
fn profiles_carry_the_seed_values() {
    let expect = [
        ("local", false, None),
        ("flowctl", true, Some((10, 2, 10, 300, 5))),
        ("development", true, Some((5, 1, 5, 120, 3))),
        ("production", true, Some((15, 5, 20, 600, 5))),
    ];
    for (name, enabled, values) in expect {
        let c = load_with(Role::Sink, Some(name), None, &[], vec![]).unwrap();
        let s = &c.settings;
        assert_eq!(s.flowctl.enabled, enabled, "{name}");
        if let Some((hb, min, max, idle, mon)) = values {
            assert_eq!(s.flowctl.heartbeat_interval.as_secs(), hb, "{name}");
            assert_eq!(s.connection_pool.min_connections, min, "{name}");
            assert_eq!(s.connection_pool.max_connections, max, "{name}");
            assert_eq!(s.connection_pool.idle_timeout.as_secs(), idle, "{name}");
            assert_eq!(s.monitoring.interval.as_secs(), mon, "{name}");
        }
    }
}

#[test]
fn yaml_config_files_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        "sink:\n  outputs:\n    - parquet:/tmp/a\n    - jsonl:/tmp/b\n  end: 99\n",
    )
    .unwrap();
    let c = load_with(Role::Sink, None, Some(&file), &[], vec![]).unwrap();
    let outputs: Vec<String> = c
        .settings
        .sink
        .outputs
        .iter()
        .map(|o| o.display())
        .collect();
    assert_eq!(outputs, vec!["parquet:/tmp/a", "jsonl:/tmp/b"]);
    assert_eq!(c.settings.sink.end, Some(99));
}

/// Runs the binary and returns (exit code, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(common::bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    for var in ["FLOWCTL_ENDPOINT", "ENABLE_FLOWCTL", "FLOWCTL_AUTH_TOKEN"] {
        if !env.iter().any(|(k, _)| *k == var) {
            cmd.env_remove(var);
        }
    }
    let out = cmd.output().expect("run stellarflow");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_validation_error_exits_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "[source]\ndatalak = \"/x\"\n").unwrap();
    let unknown = unknown.to_str().unwrap();
    let show = ["config", "show", "--role", "source"];
    // (arguments, environment, what the error line must mention)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (
            show.to_vec(),
            vec![("FLOWCTL_ENDPOINT", "no port")],
            &["FLOWCTL_ENDPOINT", "no port", "host:port"],
        ),
        (
            show.to_vec(),
            vec![("FLOWCTL_HEARTBEAT_INTERVAL", "10")],
            &["FLOWCTL_HEARTBEAT_INTERVAL", "\"10\"", "duration"],
        ),
        (
            show.to_vec(),
            vec![("CONNECTION_POOL_MAX_CONNECTIONS", "51")],
            &["CONNECTION_POOL_MAX_CONNECTIONS", "51", "1 to 50"],
        ),
        (
            show.to_vec(),
            vec![("CONNECTION_POOL_MIN_CONNECTIONS", "0")],
            &["CONNECTION_POOL_MIN_CONNECTIONS", "1 to 10"],
        ),
        (
            show.to_vec(),
            vec![
                ("CONNECTION_POOL_MIN_CONNECTIONS", "8"),
                ("CONNECTION_POOL_MAX_CONNECTIONS", "5"),
            ],
            &[
                "CONNECTION_POOL_MIN_CONNECTIONS",
                "CONNECTION_POOL_MAX_CONNECTIONS",
                "8",
            ],
        ),
        (
            show.to_vec(),
            vec![("FLOW_CONTROL_RECOVERY_THRESHOLD", "0.8")],
            &["FLOW_CONTROL_RECOVERY_THRESHOLD", "0.8", "backpressure"],
        ),
        (
            show.to_vec(),
            vec![("FLOW_CONTROL_BACKPRESSURE_THRESHOLD", "1.5")],
            &["FLOW_CONTROL_BACKPRESSURE_THRESHOLD", "0 to 1"],
        ),
        (
            show.to_vec(),
            vec![("ENABLE_FLOWCTL", "maybe")],
            &["ENABLE_FLOWCTL", "maybe", "true or false"],
        ),
        (
            show.to_vec(),
            vec![("STELLAR_ARROW_SOURCE_ON_ERROR", "ignore")],
            &["STELLAR_ARROW_SOURCE_ON_ERROR", "fail, skip"],
        ),
        (
            show.to_vec(),
            vec![("LOG_FORMAT", "xml")],
            &["LOG_FORMAT", "text, json"],
        ),
        (
            vec!["config", "show", "--profile", "staging"],
            vec![],
            &["profile", "staging", "production"],
        ),
        (
            vec!["config", "show", "--config", unknown],
            vec![],
            &["source.datalak", "unknown key"],
        ),
        (
            vec!["controlplane", "--grpc-addr", "localhost"],
            vec![],
            &["--grpc-addr", "localhost", "host:port"],
        ),
        (
            vec!["controlplane", "--ttl", "fast"],
            vec![],
            &["--ttl", "fast", "duration"],
        ),
        (
            vec!["source", "--prefetch", "600"],
            vec![],
            &["--prefetch", "600", "0 to 512"],
        ),
        (
            vec!["process", "--mode", "magic"],
            vec![],
            &["--mode", "magic", "auto, unified, derived"],
        ),
        (
            vec!["sink", "--start", "10", "--end", "5"],
            vec![],
            &["--start", "--end", "10"],
        ),
        (vec!["sink", "--end=-1"], vec![], &["--end", "-1", "ledger"]),
        (
            vec!["sink", "--end", "12x"],
            vec![("ARROW_ANALYTICS_SINK_START", "5")],
            &["--end", "12x", "ledger"],
        ),
        // A zero period would busy-loop or panic; a bare word would
        // silence every log line; an empty value would silently mean
        // something else (the default, or no authentication).
        (
            vec!["controlplane", "--sweep-interval", "0s"],
            vec![],
            &["--sweep-interval", "0s", "above zero"],
        ),
        (
            vec!["controlplane", "--ttl", "0s"],
            vec![],
            &["--ttl", "above zero"],
        ),
        (
            vec!["source", "--poll-interval", "0ms"],
            vec![],
            &["--poll-interval", "above zero"],
        ),
        (
            vec!["source", "--log-level", "loud"],
            vec![],
            &["--log-level", "loud", "debug"],
        ),
        (
            vec!["controlplane", "--auth-token", ""],
            vec![],
            &["--auth-token", "not empty"],
        ),
        (
            vec!["sink", "--postgres-table", ""],
            vec![],
            &["--postgres-table", "not empty"],
        ),
        (
            vec!["source", "--rpc-url", "notaurl"],
            vec![],
            &["--rpc-url", "notaurl", "http"],
        ),
        (
            vec!["source", "--s3-endpoint", "notaurl"],
            vec![],
            &["--s3-endpoint", "notaurl", "http"],
        ),
        (
            vec!["sink", "--output", ""],
            vec![],
            &["--output", "no output"],
        ),
        // The pipeline refuses a bad output before it starts any child.
        (
            vec!["pipeline", "--output", "parquet:"],
            vec![],
            &["--output", "parquet:", "empty target"],
        ),
        (
            vec!["pipeline", "--output", "postgres:notaurl"],
            vec![],
            &["--output", "notaurl", "postgres://"],
        ),
        (
            vec![
                "sink",
                "--output",
                "jsonl:/tmp/x",
                "--output",
                "jsonl:/tmp/x",
            ],
            vec![],
            &["--output", "jsonl:/tmp/x", "twice"],
        ),
        (
            show.to_vec(),
            vec![("STELLAR_ARROW_SOURCE_RPC_URL", "ftp://x")],
            &["STELLAR_ARROW_SOURCE_RPC_URL", "ftp://x", "http"],
        ),
    ];
    for (args, env, needles) in cases {
        let (code, stderr) = run(&args, &env);
        assert_eq!(code, 2, "{args:?} {env:?} should exit 2, stderr: {stderr}");
        let line = stderr.trim();
        assert_eq!(
            line.lines().count(),
            1,
            "one line for {args:?} {env:?}, got: {stderr}"
        );
        for needle in needles {
            assert!(
                line.contains(needle),
                "{args:?} {env:?}: {line:?} should mention {needle:?}"
            );
        }
    }
}

#[test]
fn config_show_runs_for_every_role_and_profile() {
    for role in ["controlplane", "source", "processor", "sink", "pipeline"] {
        for profile in ["local", "flowctl", "development", "production"] {
            let out = Command::new(common::bin())
                .args(["config", "show", "--role", role, "--profile", profile])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{role}/{profile}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("flowctl.heartbeat_interval"),
                "{role}/{profile}"
            );
        }
    }
}

#[test]
fn url_passwords_are_hidden_in_config_show_and_errors() {
    let url = "postgres://writer:Secret@db.example:5432/events";
    let env = [("ARROW_ANALYTICS_SINK_OUTPUTS", &*format!("postgres:{url}"))];
    for format in ["text", "json"] {
        let out = Command::new(common::bin())
            .args(["config", "show", "--role", "sink", "--format", format])
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .output()
            .unwrap();
        common::assert_ok(&out);
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("postgres://writer:"), "{shown}");
        assert!(!shown.contains("Secret"), "password shown: {shown}");
    }
    // The same spec twice: the error names it, without the password.
    let twice = format!("postgres:{url},postgres:{url}");
    let (code, stderr) = run(
        &["config", "show", "--role", "sink"],
        &[("ARROW_ANALYTICS_SINK_OUTPUTS", &twice)],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("twice"), "{stderr}");
    assert!(!stderr.contains("Secret"), "password shown: {stderr}");
}
