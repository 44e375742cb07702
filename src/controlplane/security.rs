//! Bearer-token checking on every RPC, and the server's TLS / mutual-TLS
//! configuration.

use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tonic::{Request, Status};

use crate::config::ControlplaneSettings;

/// Rejects requests without `authorization: Bearer <token>` when a token is
/// configured.
#[derive(Clone)]
pub(crate) struct RequireToken(Option<Arc<[u8]>>);

impl RequireToken {
    /// `None` lets every request through.
    pub fn new(token: Option<&str>) -> Self {
        RequireToken(token.map(|t| Arc::from(format!("Bearer {t}").into_bytes())))
    }
}

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.0 else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if constant_time_eq(given, expected) {
            Ok(request)
        } else {
            metrics::counter!("flowctl_auth_failures_total").increment(1);
            Err(Status::unauthenticated(
                "missing or wrong bearer token: send `authorization: Bearer <FLOWCTL_AUTH_TOKEN>`",
            ))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// TLS for the gRPC server, when a certificate is configured.
pub(crate) fn server_tls(
    settings: &ControlplaneSettings,
) -> anyhow::Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        if settings.tls_cert.is_some() || settings.tls_key.is_some() {
            anyhow::bail!("--tls-cert and --tls-key must be given together");
        }
        if settings.tls_client_ca.is_some() {
            anyhow::bail!("--tls-client-ca needs --tls-cert and --tls-key");
        }
        return Ok(None);
    };
    let read = |path: &str, what: &str| {
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {what} {path}: {e}"))
    };
    let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
        read(cert, "TLS certificate")?,
        read(key, "TLS key")?,
    ));
    if let Some(ca) = &settings.tls_client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca, "client CA")?));
    }
    Ok(Some(config))
}
