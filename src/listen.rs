//! Binding listening sockets once, and telling whoever started us where we
//! listen. A role binds each port exactly once and passes the listener down
//! (as mini-redis's `server::run(listener, shutdown)` does), so `:0` works
//! everywhere: the port is chosen by the kernel and never released in
//! between. The result (the bound addresses, or the bind error) is written
//! to `<state dir>/listening.json` as a typed [`Listening`] report, which is
//! how the pipeline supervisor learns its children's ports and tells a port
//! clash from any other failure without reading their logs.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// A failed bind, with what the socket was for.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {what} on {addr}: {source}")]
pub struct BindError {
    /// What the socket was for: "Arrow Flight", "HTTP", "gRPC".
    pub what: &'static str,
    /// The address asked for.
    pub addr: String,
    /// The operating system's error.
    pub source: std::io::Error,
}

impl BindError {
    /// Whether another process holds the port.
    pub(crate) fn in_use(&self) -> bool {
        self.source.kind() == ErrorKind::AddrInUse
    }
}

/// Binds `addr` (`host:port`, port 0 for any free port).
pub async fn bind(addr: &str, what: &'static str) -> Result<(TcpListener, SocketAddr), BindError> {
    let fail = |source| BindError {
        what,
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(fail)?;
    let local = listener.local_addr().map_err(fail)?;
    Ok((listener, local))
}

/// What a role reports about its listening sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Listening {
    /// Every socket is bound.
    Bound {
        /// The reporting process.
        pid: u32,
        /// Its data address: Arrow Flight, or gRPC for the control plane.
        data_addr: String,
        /// Its HTTP address (`/health`, `/metrics`).
        http_addr: String,
    },
    /// A bind failed; the role exits.
    BindFailed {
        /// The reporting process.
        pid: u32,
        /// The address it could not bind.
        addr: String,
        /// Another process holds that port.
        in_use: bool,
        /// The error as the operating system gave it.
        error: String,
    },
}

/// The report's file name inside a role's state dir.
pub(crate) const LISTENING_FILE: &str = "listening.json";

impl Listening {
    /// A report of `error` by this process.
    pub fn failed(error: &BindError) -> Self {
        Listening::BindFailed {
            pid: std::process::id(),
            addr: error.addr.clone(),
            in_use: error.in_use(),
            error: error.source.to_string(),
        }
    }

    /// A report of the bound addresses by this process.
    pub fn bound(data_addr: SocketAddr, http_addr: SocketAddr) -> Self {
        Listening::Bound {
            pid: std::process::id(),
            data_addr: data_addr.to_string(),
            http_addr: http_addr.to_string(),
        }
    }

    /// The process that wrote it.
    pub fn pid(&self) -> u32 {
        match self {
            Listening::Bound { pid, .. } | Listening::BindFailed { pid, .. } => *pid,
        }
    }

    /// Writes the report into `state_dir`. Best effort: a role whose state
    /// dir is not writable still serves, and says why it could not report.
    pub fn write(&self, state_dir: &Path) {
        if let Err(e) = crate::durable::write_json(&state_dir.join(LISTENING_FILE), self) {
            tracing::warn!(dir = %state_dir.display(), error = %e, "cannot write the listening report");
        }
    }

    /// Reads the report in `state_dir`, if there is a whole one.
    pub fn read(state_dir: &Path) -> Option<Self> {
        crate::durable::read_json(&state_dir.join(LISTENING_FILE))
    }

    /// Removes a report left by an earlier process.
    pub fn clear(state_dir: &Path) {
        let _ = std::fs::remove_file(state_dir.join(LISTENING_FILE));
    }
}

/// A role's two listening sockets, bound.
pub struct Bound {
    /// Data socket: Arrow Flight, or gRPC for the control plane.
    pub data: TcpListener,
    /// Its address.
    pub data_addr: SocketAddr,
    /// HTTP socket (`/health`, `/metrics`, the role's API).
    pub http: TcpListener,
    /// Its address.
    pub http_addr: SocketAddr,
}

/// Binds a role's data and HTTP sockets and reports the outcome into
/// `state_dir` (when the role has one): the addresses, or the bind error.
pub async fn bind_role(
    data_addr: &str,
    data_what: &'static str,
    http_addr: &str,
    state_dir: Option<&Path>,
) -> Result<Bound, BindError> {
    let result = async {
        let (data, data_bound) = bind(data_addr, data_what).await?;
        let (http, http_bound) = bind(http_addr, "HTTP").await?;
        Ok(Bound {
            data,
            data_addr: data_bound,
            http,
            http_addr: http_bound,
        })
    }
    .await;
    if let Some(dir) = state_dir {
        match &result {
            Ok(bound) => Listening::bound(bound.data_addr, bound.http_addr).write(dir),
            Err(error) => Listening::failed(error).write(dir),
        }
    }
    result
}
