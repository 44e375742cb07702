//! Every channel can be authenticated and encrypted: Flight, gRPC and the
//! HTTP admin surfaces require the shared bearer token (all but `/health`),
//! TLS and mutual TLS work with clients nobody here wrote (pyarrow.flight),
//! a port beyond this machine is not served open by accident, and the
//! production profile runs a whole pipeline on a generated token and CA.

mod common;

use std::process::Command;

use stellarflow::flight::{FlightClientError, Ticket};
use stellarflow::security::{client_tls, ClientAccess, Token};

const TOKEN: &str = "test-token-5f1c";

async fn read_with(endpoint: &str, access: &ClientAccess) -> Result<usize, FlightClientError> {
    use futures::TryStreamExt;
    let batches: Vec<_> = stellarflow::flight::fetch(endpoint, Ticket::range(100, 104), access)
        .await?
        .try_collect()
        .await?;
    Ok(batches.iter().map(|b| b.batch.num_rows()).sum())
}

fn unauthenticated(result: Result<usize, FlightClientError>) -> String {
    match result {
        Err(FlightClientError::Status { code, message, .. }) => {
            assert_eq!(code, tonic::Code::Unauthenticated, "{message}");
            message
        }
        other => panic!("expected UNAUTHENTICATED, got {other:?}"),
    }
}

async fn get(url: &str, authorization: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new().get(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.expect("GET").status().as_u16()
}

#[tokio::test]
async fn the_token_guards_flight_and_http_but_not_health() {
    let lake = tempfile::tempdir().unwrap();
    common::generate_lake(lake.path(), 100, 10);
    let source = common::start_source(
        lake.path().to_str().unwrap(),
        &[("security.auth_token", TOKEN)],
    )
    .await
    .unwrap();
    let endpoint = source.flight_addr.to_string();

    let message = unauthenticated(read_with(&endpoint, &ClientAccess::default()).await);
    assert!(message.contains("bearer token"), "{message}");
    let wrong = ClientAccess::new(Some(Token::new("not-it")), None).unwrap();
    unauthenticated(read_with(&endpoint, &wrong).await);
    let right = ClientAccess::new(Some(Token::new(TOKEN)), None).unwrap();
    assert_eq!(read_with(&endpoint, &right).await.unwrap(), 5);

    let http = format!("http://{}", source.http_addr);
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(get(&format!("{http}/health"), None).await, 200);
    assert_eq!(get(&format!("{http}/metrics"), None).await, 401);
    assert_eq!(
        get(&format!("{http}/metrics"), Some("Bearer nope")).await,
        401
    );
    assert_eq!(get(&format!("{http}/metrics"), Some(&bearer)).await, 200);
    assert_eq!(
        get(&format!("{http}/metrics?access_token={TOKEN}"), None).await,
        200
    );
    // The token never shows on the surfaces it guards.
    let metrics = reqwest::Client::new()
        .get(format!("{http}/metrics"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains(TOKEN));
    assert!(
        metrics.contains("stellarflow_auth_failures_total"),
        "{metrics}"
    );
    source.shutdown().await;
}

/// pyarrow.flight, over TLS with the token, then under mutual TLS: with
/// its certificate it reads the rows ours reads; without the token, or
/// without a client certificate, it is refused.
#[tokio::test(flavor = "multi_thread")]
async fn pyarrow_flight_over_tls_and_mutual_tls_with_the_token() {
    let Some(python) = common::python_with(&["pyarrow.flight"]) else {
        return;
    };
    let lake = tempfile::tempdir().unwrap();
    common::generate_lake(lake.path(), 100, 10);
    let pem = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::certificates(pem.path());
    let script = r#"
import sys, json, pyarrow.flight as fl
port, ca, token = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
identity = {}
if len(sys.argv) > 4:
    identity = {"cert_chain": open(sys.argv[4], "rb").read(), "private_key": open(sys.argv[5], "rb").read()}
ticket = fl.Ticket(json.dumps({"start": 100, "end": 104}).encode())
def read(headers, **kw):
    client = fl.connect("grpc+tls://localhost:" + port, tls_root_certs=ca, **kw)
    try:
        return client.do_get(ticket, fl.FlightCallOptions(headers=headers)).read_all().num_rows
    except fl.FlightUnauthenticatedError:
        return "unauthenticated"
    except fl.FlightError as e:
        return "refused: " + type(e).__name__
print(json.dumps({
    "with_token": read([(b"authorization", ("Bearer " + token).encode())], **identity),
    "without_token": read([], **identity),
    "without_certificate": read([(b"authorization", ("Bearer " + token).encode())]) if identity else None,
}))
"#;
    let run = |port: u16, identity: bool| {
        let mut command = Command::new(&python);
        command
            .args(["-c", script, &port.to_string(), &ca, TOKEN])
            .env("GRPC_VERBOSITY", "NONE");
        if identity {
            command.args([&cert, &key]);
        }
        let out = command.output().unwrap();
        common::assert_ok(&out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };

    // TLS and the token.
    let source = common::start_source(
        lake.path().to_str().unwrap(),
        &[
            ("security.auth_token", TOKEN),
            ("security.tls_cert", &cert),
            ("security.tls_key", &key),
        ],
    )
    .await
    .unwrap();
    let report = tokio::task::block_in_place(|| run(source.flight_addr.port(), false));
    assert_eq!(report["with_token"], 5, "{report}");
    assert_eq!(report["without_token"], "unauthenticated", "{report}");
    // Our own client over TLS, by `https://` from the CA.
    let tls = client_tls(Some(&ca), None).unwrap();
    let ours = ClientAccess::new(Some(Token::new(TOKEN)), Some(tls)).unwrap();
    let endpoint = format!("localhost:{}", source.flight_addr.port());
    assert_eq!(read_with(&endpoint, &ours).await.unwrap(), 5);
    // Plain text against the TLS port fails to connect at all.
    let plain = ClientAccess::new(Some(Token::new(TOKEN)), None).unwrap();
    assert!(read_with(&endpoint, &plain).await.is_err());
    source.shutdown().await;

    // Mutual TLS: a client certificate signed by the CA is required.
    let source = common::start_source(
        lake.path().to_str().unwrap(),
        &[
            ("security.auth_token", TOKEN),
            ("security.tls_cert", &cert),
            ("security.tls_key", &key),
            ("security.tls_client_ca", &ca),
        ],
    )
    .await
    .unwrap();
    let report = tokio::task::block_in_place(|| run(source.flight_addr.port(), true));
    assert_eq!(report["with_token"], 5, "{report}");
    assert_eq!(report["without_token"], "unauthenticated", "{report}");
    assert_ne!(report["without_certificate"], 5, "{report}");
    let endpoint = format!("localhost:{}", source.flight_addr.port());
    let no_identity = ClientAccess::new(
        Some(Token::new(TOKEN)),
        Some(client_tls(Some(&ca), None).unwrap()),
    )
    .unwrap();
    assert!(read_with(&endpoint, &no_identity).await.is_err());
    let identity = ClientAccess::new(
        Some(Token::new(TOKEN)),
        Some(client_tls(Some(&ca), Some((&cert, &key))).unwrap()),
    )
    .unwrap();
    assert_eq!(read_with(&endpoint, &identity).await.unwrap(), 5);
    source.shutdown().await;
}

fn stellarflow(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(common::bin());
    command.args(args).env_remove("STELLARFLOW_AUTH_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn an_open_port_beyond_this_machine_is_refused_unless_insecure() {
    let lake = tempfile::tempdir().unwrap();
    let lake = lake.path().to_str().unwrap();
    for (args, env, key) in [
        (
            vec!["source", "--datalake", lake, "--flight-addr", "0.0.0.0:0"],
            None,
            "source.flight_addr = 0.0.0.0:0",
        ),
        (
            vec![
                "controlplane",
                "--grpc-addr",
                "127.0.0.1:0",
                "--http-addr",
                "0.0.0.0:0",
            ],
            None,
            "controlplane.http_addr = 0.0.0.0:0",
        ),
        (
            vec!["pipeline", "--datalake", lake],
            Some(("ARROW_ANALYTICS_SINK_HTTP_ADDR", "[::]:0")),
            "sink.http_addr = [::]:0",
        ),
    ] {
        let out = stellarflow(&args, env.as_slice());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(key), "{args:?}: {stderr}");
        assert!(stderr.contains("--insecure"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    // The production profile needs a token for a role on its own.
    let out = stellarflow(&["sink", "--profile", "production"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("STELLARFLOW_AUTH_TOKEN_FILE"), "{stderr}");
}

/// `--insecure` serves the open port on purpose; a token serves it guarded.
#[tokio::test]
async fn insecure_or_a_token_lets_a_role_bind_beyond_loopback() {
    for env in [
        vec![("STELLARFLOW_INSECURE", "true")],
        vec![("STELLARFLOW_AUTH_TOKEN", TOKEN)],
    ] {
        let lake = tempfile::tempdir().unwrap();
        common::generate_lake(lake.path(), 100, 3);
        let state = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(common::bin())
            .args([
                "source",
                "--flight-addr",
                "0.0.0.0:0",
                "--http-addr",
                "127.0.0.1:0",
            ])
            .arg("--datalake")
            .arg(lake.path())
            .arg("--state-dir")
            .arg(state.path())
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let bound = common::eventually(
            "the source reports its ports",
            std::time::Duration::from_secs(30),
            || stellarflow::listen::Listening::read(state.path()),
        )
        .await;
        assert!(
            matches!(bound, stellarflow::listen::Listening::Bound { .. }),
            "{env:?}"
        );
        child.kill().await.unwrap();
    }
}

/// The production profile on a whole pipeline: the supervisor makes a
/// token and a CA, every child serves TLS with mutual TLS and requires the
/// token, and the output is the same as an open run's. No secret reaches a
/// child's command line, its configuration file or a log.
#[test]
fn production_pipeline_runs_on_a_generated_token_and_ca() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out_dir = dir.path().join("out");
    let ports = common::any_ports(dir.path());
    let out = stellarflow(
        &[
            "pipeline",
            "--profile",
            "production",
            "--config",
            ports.to_str().unwrap(),
            "--log-format",
            "text",
            "--state-dir",
            state.to_str().unwrap(),
            "--output",
            &format!("jsonl:{}", out_dir.display()),
        ],
        &[],
    );
    common::assert_ok(&out);
    let events = common::jsonl_events(&out_dir);
    // The README's default run: 200 generated ledgers, 19,361 events.
    assert_eq!(events.len(), 19_361);

    use std::os::unix::fs::PermissionsExt;
    let security = state.join("security");
    let token = std::fs::read_to_string(security.join("token")).unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 64);
    for name in ["token", "key.pem", "cert.pem", "ca.pem"] {
        let mode = std::fs::metadata(security.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} is {mode:o}");
    }
    let mut checked = 0;
    for file in common::walk(&state) {
        if file.starts_with(&security) {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(!text.contains(token), "{} holds the token", file.display());
        checked += 1;
    }
    assert!(checked > 4, "state dir has configs and logs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(token));
    let sink_config = std::fs::read_to_string(state.join("config").join("sink.toml")).unwrap();
    assert!(sink_config.contains("auth_token_file"), "{sink_config}");
    assert!(sink_config.contains("tls_client_ca"), "{sink_config}");
}
