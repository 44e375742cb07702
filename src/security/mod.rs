//! Who may use a port and how its traffic is encrypted: the bearer token
//! and TLS material of the shared `[security]` settings, applied the same
//! way to every server (Flight, gRPC, HTTP admin) and every client a role
//! opens.
//!
//! One token guards every channel of a deployment because its roles trust
//! each other equally; a stranger is anyone without it. `/health` stays
//! open so that orchestrators' probes need no secret, and it tells nothing
//! beyond liveness and the bound addresses.

mod generate;

use std::net::IpAddr;
use std::sync::Arc;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};
use tonic::{Request, Status};

use crate::config::{Role, Settings};

pub(crate) use generate::generate;

/// A bearer token. Its `Debug` form is `***`, so it cannot reach a log by
/// accident.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    /// Wraps a token read from the configuration.
    pub fn new(token: &str) -> Token {
        Token(Arc::from(token))
    }

    /// The token's text, for the one place that sends or compares it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The token of the `[security]` settings: `auth_token`, else the first
/// line of `auth_token_file`.
pub(crate) fn security_token(settings: &Settings) -> anyhow::Result<Option<Token>> {
    let security = &settings.security;
    if let Some(token) = &security.auth_token {
        return Ok(Some(Token(Arc::from(token.as_str()))));
    }
    let Some(path) = &security.auth_token_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read security.auth_token_file {path}: {e}"))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        anyhow::bail!(
            "security.auth_token_file {path} is empty: put the bearer token on its first line"
        );
    }
    Ok(Some(Token(Arc::from(token))))
}

fn read_pem(path: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {what} {path}: {e}"))
}

/// TLS for a server from PEM files: a certificate and key, and optionally
/// the CA that client certificates must chain to (mutual TLS).
pub(crate) fn server_tls(
    cert: &str,
    key: &str,
    client_ca: Option<&str>,
) -> anyhow::Result<ServerTlsConfig> {
    let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
        read_pem(cert, "TLS certificate")?,
        read_pem(key, "TLS key")?,
    ));
    if let Some(ca) = client_ca {
        config = config.client_ca_root(Certificate::from_pem(read_pem(ca, "TLS client CA")?));
    }
    Ok(config)
}

/// TLS for a client from PEM files: the CA that verifies servers, and
/// optionally a certificate and key to present under mutual TLS.
pub fn client_tls(
    ca: Option<&str>,
    identity: Option<(&str, &str)>,
) -> anyhow::Result<ClientTlsConfig> {
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = ca {
        config = config.ca_certificate(Certificate::from_pem(read_pem(ca, "TLS CA")?));
    }
    if let Some((cert, key)) = identity {
        config = config.identity(Identity::from_pem(
            read_pem(cert, "TLS client certificate")?,
            read_pem(key, "TLS client key")?,
        ));
    }
    Ok(config)
}

/// What a role's servers require and its clients present.
#[derive(Clone, Default)]
pub struct Access {
    /// Required on every request but `/health`; `None` lets everyone in.
    pub token: Option<Token>,
    /// TLS for the role's servers.
    pub server_tls: Option<ServerTlsConfig>,
    /// What the role's clients of other roles present.
    pub client: ClientAccess,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token)
            .field("server_tls", &self.server_tls.is_some())
            .field("client", &self.client)
            .finish()
    }
}

impl Access {
    /// Reads the `[security]` settings and the PEM files they name.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Access> {
        let security = &settings.security;
        let token = security_token(settings)?;
        let server_tls = match (&security.tls_cert, &security.tls_key) {
            (Some(cert), Some(key)) => {
                Some(server_tls(cert, key, security.tls_client_ca.as_deref())?)
            }
            _ => None,
        };
        let identity = security
            .tls_cert
            .as_deref()
            .zip(security.tls_key.as_deref());
        // Clients use TLS when there is a CA to verify servers with; the
        // certificate is presented only to servers that ask (mutual TLS).
        let tls = security
            .tls_ca
            .as_deref()
            .map(|ca| client_tls(Some(ca), identity))
            .transpose()?;
        Ok(Access {
            client: ClientAccess::new(token.clone(), tls)?,
            token,
            server_tls,
        })
    }
}

/// What a client sends to another role: the bearer token, and TLS when the
/// deployment has a CA (then a bare `host:port` means `https://`).
#[derive(Clone, Default)]
pub struct ClientAccess {
    header: Option<MetadataValue<Ascii>>,
    tls: Option<ClientTlsConfig>,
}

impl std::fmt::Debug for ClientAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAccess")
            .field("token", &self.header.as_ref().map(|_| "***"))
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl ClientAccess {
    /// A client that sends `token` (if any) and connects over `tls` (if any).
    pub fn new(token: Option<Token>, tls: Option<ClientTlsConfig>) -> anyhow::Result<Self> {
        let header = token
            .map(|token| {
                format!("Bearer {}", token.expose()).parse().map_err(|_| {
                    anyhow::anyhow!(
                        "the bearer token holds characters not allowed in an HTTP header"
                    )
                })
            })
            .transpose()?;
        Ok(ClientAccess { header, tls })
    }

    /// The URI for `endpoint`: as given when it has a scheme, otherwise
    /// `https://` with TLS and `http://` without. `:port` means loopback.
    pub fn uri(&self, endpoint: &str) -> String {
        let endpoint = endpoint.trim().trim_end_matches('/');
        if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            return endpoint.to_string();
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match endpoint.strip_prefix(':') {
            Some(port) => format!("{scheme}://127.0.0.1:{port}"),
            None => format!("{scheme}://{endpoint}"),
        }
    }

    /// A tonic endpoint for `endpoint`, with TLS applied to `https://`.
    pub fn endpoint(&self, endpoint: &str) -> Result<Endpoint, String> {
        let uri = self.uri(endpoint);
        let builder = Endpoint::from_shared(uri.clone()).map_err(|e| format!("{e}"))?;
        if !uri.starts_with("https://") {
            return Ok(builder);
        }
        let tls = self.tls.clone().ok_or_else(|| {
            format!("{uri} uses TLS: set security.tls_ca (STELLARFLOW_TLS_CA) to the CA that signed its certificate")
        })?;
        builder
            .tls_config(tls)
            .map_err(|e| format!("TLS set-up for {uri} failed: {e}"))
    }

    /// The interceptor that adds the token to every request.
    pub fn interceptor(&self) -> BearerToken {
        BearerToken(self.header.clone())
    }

    /// The `authorization` value, for HTTP clients.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.header.as_ref().and_then(|v| v.to_str().ok())
    }
}

/// An HTTP client for other roles' admin surfaces that sends the token.
pub(crate) fn http_client(
    access: &ClientAccess,
    timeout: std::time::Duration,
) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(value) = access.authorization() {
        let mut value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| anyhow::anyhow!("the bearer token is not a valid header value"))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .default_headers(headers)
        .build()?)
}

/// Adds `authorization: Bearer <token>` to every request, when there is a
/// token.
#[derive(Clone, Default)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Refuses gRPC requests without `authorization: Bearer <token>` when a
/// token is configured.
#[derive(Clone)]
pub(crate) struct RequireToken(Option<Arc<[u8]>>);

impl RequireToken {
    /// `None` lets every request through.
    pub fn new(token: Option<&Token>) -> Self {
        RequireToken(token.map(|t| Arc::from(format!("Bearer {}", t.expose()).into_bytes())))
    }

    fn allows(&self, given: Option<&[u8]>) -> bool {
        match &self.0 {
            None => true,
            Some(expected) => constant_time_eq(given.unwrap_or_default(), expected),
        }
    }
}

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let given = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        if self.allows(given) {
            Ok(request)
        } else {
            metrics::counter!("stellarflow_auth_failures_total", "channel" => "grpc").increment(1);
            Err(Status::unauthenticated(
                "missing or wrong bearer token: send `authorization: Bearer <token>` (STELLARFLOW_AUTH_TOKEN)",
            ))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Requires the token on every HTTP route but `/health`. Browsers cannot
/// set a header on a WebSocket or on a page load, so `?access_token=` is
/// accepted as well.
pub(crate) fn protect_http(router: axum::Router, token: Option<&Token>) -> axum::Router {
    let check = RequireToken::new(token);
    if check.0.is_none() {
        return router;
    }
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let check = check.clone();
            async move {
                if request.uri().path() == "/health" || http_allowed(&check, &request) {
                    return next.run(request).await;
                }
                metrics::counter!("stellarflow_auth_failures_total", "channel" => "http")
                    .increment(1);
                use axum::response::IntoResponse;
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                    "missing or wrong bearer token: send `Authorization: Bearer <token>` (STELLARFLOW_AUTH_TOKEN)\n",
                )
                    .into_response()
            }
        },
    ))
}

fn http_allowed(check: &RequireToken, request: &axum::extract::Request) -> bool {
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if check.allows(header) {
        return true;
    }
    let query = request.uri().query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "access_token")
        .any(|(_, value)| check.allows(Some(format!("Bearer {value}").as_bytes())))
}

/// Whether a listen address stays on this machine.
fn is_loopback(addr: &str) -> bool {
    let host = addr
        .rsplit_once(':')
        .map(|(host, _)| host)
        .unwrap_or(addr)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses, before anything starts, to serve a port beyond this machine
/// that anyone could use, and to run the production profile without a
/// token. `--insecure` allows the first on purpose.
pub(crate) fn check_exposure(settings: &Settings, role: Role) -> Result<(), String> {
    let security = &settings.security;
    let has_token = security.auth_token.is_some() || security.auth_token_file.is_some();
    let has_tls = security.tls_cert.is_some();
    // A pipeline that must authenticate makes its own token and CA.
    let generated = role == Role::Pipeline && security.require_auth;
    if security.require_auth && !has_token && !generated {
        let controlplane_token =
            role == Role::Controlplane && settings.flowctl.auth_token.is_some();
        if !controlplane_token {
            return Err(format!(
                "{role} needs a bearer token (security.require_auth is on, as in the production profile): set STELLARFLOW_AUTH_TOKEN_FILE to a file holding one, or STELLARFLOW_AUTH_TOKEN"
            ));
        }
    }
    if security.insecure || generated {
        return Ok(());
    }
    let mut ports: Vec<(&str, &str, bool)> = Vec::new();
    let cp = &settings.controlplane;
    let cp_token = has_token || settings.flowctl.auth_token.is_some();
    let cp_tls = has_tls || cp.tls_cert.is_some();
    if matches!(role, Role::Controlplane | Role::Pipeline) {
        ports.push(("controlplane.grpc_addr", &cp.grpc_addr, cp_token || cp_tls));
        ports.push(("controlplane.http_addr", &cp.http_addr, cp_token));
    }
    for serving in [Role::Source, Role::Processor, Role::Sink] {
        if role != serving && role != Role::Pipeline {
            continue;
        }
        if let Some(s) = settings.serving(serving) {
            ports.push((flight_key(serving), s.flight_addr, has_token || has_tls));
            ports.push((http_key(serving), s.http_addr, has_token));
        }
    }
    for (key, addr, protected) in ports {
        if !protected && !is_loopback(addr) {
            return Err(format!(
                "refusing to serve {key} = {addr} beyond this machine without authentication: set STELLARFLOW_AUTH_TOKEN_FILE (a bearer token) and, for encryption, --tls-cert/--tls-key; or pass --insecure to serve it open on purpose"
            ));
        }
    }
    Ok(())
}

fn flight_key(role: Role) -> &'static str {
    match role {
        Role::Source => "source.flight_addr",
        Role::Processor => "processor.flight_addr",
        _ => "sink.flight_addr",
    }
}

fn http_key(role: Role) -> &'static str {
    match role {
        Role::Source => "source.http_addr",
        Role::Processor => "processor.http_addr",
        _ => "sink.http_addr",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for addr in ["127.0.0.1:80", "localhost:1", "[::1]:9", "127.1.2.3:0"] {
            assert!(is_loopback(addr), "{addr}");
        }
        for addr in ["0.0.0.0:80", "[::]:1", "10.0.0.1:9", "example.org:443"] {
            assert!(!is_loopback(addr), "{addr}");
        }
    }

    #[test]
    fn token_compare() {
        let token = Token(Arc::from("s3cret"));
        let check = RequireToken::new(Some(&token));
        assert!(check.allows(Some(b"Bearer s3cret")));
        assert!(!check.allows(Some(b"Bearer s3cre")));
        assert!(!check.allows(None));
        assert!(RequireToken::new(None).allows(None));
        assert_eq!(format!("{token:?}"), "Token(***)");
    }
}
