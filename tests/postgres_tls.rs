//! The PostgreSQL output over TLS, against a throwaway server this test
//! starts itself (`initdb` into a temporary directory, `ssl = on` with a
//! certificate the test makes, its own port, and a `pg_hba.conf` that
//! accepts TLS connections only), never the machine's own server.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of `initdb` and `pg_ctl`, if PostgreSQL's server
/// binaries are installed.
fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a server binary, as the `postgres` user when we are root (the
/// server refuses to run as root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

struct Server {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn start_server(cert: &str, key: &str) -> Server {
    use std::os::unix::fs::PermissionsExt;
    let bin = pg_bin().expect("PostgreSQL server binaries");
    let dir = tempfile::tempdir().unwrap();
    if is_root() {
        let out = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .output()
            .unwrap();
        common::assert_ok(&out);
    }
    let data = dir.path().join("data");
    let out = as_server_user(&bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .unwrap();
    common::assert_ok(&out);
    for (name, pem) in [("server.crt", cert), ("server.key", key)] {
        let path = data.join(name);
        std::fs::write(&path, pem).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // TLS only: a plain connection is refused, so a success proves TLS.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
    )
    .unwrap();
    if is_root() {
        let out = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&data)
            .output()
            .unwrap();
        common::assert_ok(&out);
    }
    // PostgreSQL cannot be handed a bound socket: take a free port from
    // the kernel and start on it, again with another if someone took it.
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off",
            dir.path().display()
        );
        let out = as_server_user(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-w", "-t", "60", "-l"])
            .arg(dir.path().join("server.log"))
            .args(["-o", &options, "start"])
            .output()
            .unwrap();
        if out.status.success() {
            return Server {
                bin,
                data,
                port,
                _dir: dir,
            };
        }
    }
    panic!(
        "the throwaway PostgreSQL did not start: {}",
        std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
    );
}

fn count(server: &Server, table: &str) -> String {
    let out = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=require",
            server.port
        ))
        .args(["-tAc", &format!("SELECT count(*) FROM {table}")])
        .output()
        .unwrap();
    common::assert_ok(&out);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn pipeline(state: &Path, url: &str, table: &str) -> std::process::Output {
    Command::new(common::bin())
        .args(["pipeline", "--profile", "local", "--config"])
        .arg(common::any_ports(state))
        .arg("--state-dir")
        .arg(state)
        .args(["--output", &format!("postgres:{url}")])
        .env("ARROW_ANALYTICS_SINK_POSTGRES_TABLE", table)
        .env("STELLARFLOW_PIPELINE_RESTART_LIMIT", "0")
        .output()
        .unwrap()
}

/// A sink on its own, writing ledgers 1–2 to `url`: it connects (or fails
/// to) when it opens its output, before it needs any upstream.
fn sink(state: &Path, url: &str) -> std::process::Output {
    Command::new(common::bin())
        .args(["sink", "--start", "1", "--end", "2"])
        .args(["--flight-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(state)
        .args(["--output", &format!("postgres:{url}")])
        .output()
        .unwrap()
}

#[test]
fn postgres_output_over_tls_require_and_verify_full() {
    if pg_bin().is_none() {
        let reason = "PostgreSQL server binaries (initdb) are not installed";
        assert!(!common::in_ci(), "{reason}; .ci/run installs them");
        common::skip(reason);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca_path, cert, key) = common::certificates(&dir.path().join("pki"));
    let server = start_server(
        &std::fs::read_to_string(cert).unwrap(),
        &std::fs::read_to_string(key).unwrap(),
    );
    let base = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);

    // require: encrypted, certificate not checked (libpq's meaning).
    let out = pipeline(
        &dir.path().join("a"),
        &format!("{base}?sslmode=require"),
        "tls_require",
    );
    common::assert_ok(&out);
    assert_eq!(count(&server, "tls_require"), "19361");

    // verify-full: the certificate is checked against sslrootcert.
    let out = pipeline(
        &dir.path().join("b"),
        &format!("{base}?sslmode=verify-full&sslrootcert={ca_path}"),
        "tls_verify",
    );
    common::assert_ok(&out);
    assert_eq!(count(&server, "tls_verify"), "19361");

    // A CA that did not sign the server's certificate is refused, clearly.
    let (other, _, _) = common::certificates(&dir.path().join("other"));
    let url = format!("{base}?sslmode=verify-full&sslrootcert={other}");
    let out = sink(&dir.path().join("c"), &url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");

    // Without TLS the server refuses the sink (pg_hba allows TLS only).
    let url = format!("{base}?sslmode=disable");
    let out = sink(&dir.path().join("d"), &url);
    assert!(!out.status.success());
}
