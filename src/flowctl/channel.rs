//! Connecting to a control plane: endpoint forms (`host:port`, `:port`,
//! `http(s)://host:port`), TLS, and the bearer token on every request.

use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::security::{ClientAccess, Token};

/// PEM material for a TLS connection to the control plane.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// CA bundle that verifies the server.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key (mutual TLS).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// Turns the accepted endpoint forms into a URI: `:8080` means
/// `http://127.0.0.1:8080`, `host:port` means `http://host:port` (or
/// `https://` when `tls` is set).
pub fn endpoint_uri(endpoint: &str, tls: bool) -> String {
    let endpoint = endpoint.trim().trim_end_matches('/');
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        return endpoint.to_string();
    }
    let scheme = if tls { "https" } else { "http" };
    match endpoint.strip_prefix(':') {
        Some(port) => format!("{scheme}://127.0.0.1:{port}"),
        None => format!("{scheme}://{endpoint}"),
    }
}

/// A lazily connected channel to the control plane with the token attached.
/// Lazy, because a role must start even when the control plane is down.
pub(crate) type AuthChannel = InterceptedService<Channel, BearerToken>;

pub use crate::security::BearerToken;

/// Builds a channel to `endpoint`.
pub fn connect(
    endpoint: &str,
    tls: Option<&ClientTls>,
    token: Option<&str>,
) -> anyhow::Result<AuthChannel> {
    let uri = endpoint_uri(endpoint, tls.is_some_and(|t| t.ca_pem.is_some()));
    let mut builder = Endpoint::from_shared(uri.clone())
        .map_err(|e| anyhow::anyhow!("invalid control-plane endpoint {endpoint:?}: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    if uri.starts_with("https://") {
        let tls = tls.ok_or_else(|| {
            anyhow::anyhow!("control-plane endpoint {uri} uses TLS: set FLOWCTL_CA_CERT to the CA that signed its certificate")
        })?;
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &tls.ca_pem {
            config = config.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &tls.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        builder = builder
            .tls_config(config)
            .map_err(|e| anyhow::anyhow!("TLS set-up for {uri} failed: {e}"))?;
    }
    let channel = builder.connect_lazy();
    let access = ClientAccess::new(token.map(Token::new), None)?;
    Ok(InterceptedService::new(channel, access.interceptor()))
}
