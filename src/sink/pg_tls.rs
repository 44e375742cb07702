//! TLS for the PostgreSQL output, with libpq's meaning of `sslmode`:
//! `disable` never encrypts; `prefer` (the default) and `require` encrypt
//! without checking the server's certificate; `verify-full` (and the
//! stricter-than-asked `verify-ca`) check the certificate against
//! `sslrootcert` and the host name. tokio-postgres itself knows only the
//! first three modes and no `sslrootcert`, so the URL is rewritten for it.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A connection string for tokio-postgres and the TLS connector to use.
pub(super) fn prepare(url: &str) -> Result<(String, MakeRustlsConnect), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let encrypt_only = || {
        ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.dangerous()
                    .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider.clone())))
                    .with_no_client_auth()
            })
            .map_err(|e| format!("TLS set-up failed: {e}"))
    };
    let Ok(mut parsed) = url::Url::parse(url) else {
        // The key=value form: tokio-postgres reads sslmode itself.
        return Ok((url.to_string(), MakeRustlsConnect::new(encrypt_only()?)));
    };
    let mut mode = None;
    let mut root = None;
    let mut kept = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => mode = Some(value.into_owned()),
            "sslrootcert" => root = Some(value.into_owned()),
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    let (mode_for_driver, config) = match mode.as_deref() {
        None => (None, encrypt_only()?),
        Some(m @ ("disable" | "prefer" | "require")) => (Some(m), encrypt_only()?),
        Some("verify-ca" | "verify-full") => {
            let path = root.as_deref().ok_or(
                "sslmode=verify-full needs sslrootcert=PATH: the CA that signed the server's certificate",
            )?;
            (Some("require"), verifying(&provider, path)?)
        }
        Some(other) => {
            return Err(format!(
                "sslmode={other:?} is not supported: expected disable, prefer, require, verify-ca or verify-full"
            ))
        }
    };
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (key, value) in &kept {
            query.append_pair(key, value);
        }
        if let Some(mode) = mode_for_driver {
            query.append_pair("sslmode", mode);
        }
    }
    if parsed.query() == Some("") {
        parsed.set_query(None);
    }
    Ok((parsed.to_string(), MakeRustlsConnect::new(config)))
}

fn verifying(provider: &Arc<CryptoProvider>, path: &str) -> Result<ClientConfig, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?;
    let mut roots = RootCertStore::empty();
    let mut found = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("sslrootcert {path} is not PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("sslrootcert {path} holds an unusable certificate: {e}"))?;
        found += 1;
    }
    if found == 0 {
        return Err(format!("sslrootcert {path} holds no PEM certificate"));
    }
    Ok(ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `prefer`/`require`: the connection is encrypted and the handshake's
/// signatures are checked, but the certificate is not (as libpq does).
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_modes_tokio_postgres_does_not_know() {
        let (url, _) = prepare("postgres://u@h/db?sslmode=require&application_name=x").unwrap();
        assert_eq!(url, "postgres://u@h/db?application_name=x&sslmode=require");
        let err = prepare("postgres://u@h/db?sslmode=verify-full")
            .err()
            .unwrap();
        assert!(err.contains("sslrootcert"), "{err}");
        let err = prepare("postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent")
            .err()
            .unwrap();
        assert!(err.contains("/nonexistent"), "{err}");
        let err = prepare("postgres://u@h/db?sslmode=maybe").err().unwrap();
        assert!(err.contains("maybe"), "{err}");
        let (url, _) = prepare("postgres://u@h/db").unwrap();
        assert_eq!(url, "postgres://u@h/db");
    }
}
