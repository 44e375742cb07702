//! The token and certificates `pipeline` makes for its children when it
//! must authenticate and the user gave none: a random bearer token and a
//! self-signed CA with one certificate that every child serves with and
//! presents as a client (mutual TLS). They live in `<state dir>/security`,
//! readable only by the user, and are kept across runs so that
//! `pipeline status` from another terminal, and a rerun, use the same ones.

use std::path::{Path, PathBuf};

use rand::TryRngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// Paths of the generated material.
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    /// The bearer token, on one line.
    pub token_file: PathBuf,
    /// The CA that signed `cert` (clients verify servers, servers clients).
    pub ca: PathBuf,
    /// The certificate every child serves with.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

/// Makes (or finds from an earlier run) the token and certificates under
/// `dir`. The certificate names this machine: `localhost`, the loopback
/// addresses and its hostname.
pub(crate) fn generate(dir: &Path) -> anyhow::Result<Generated> {
    let generated = Generated {
        token_file: dir.join("token"),
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    if !generated.token_file.is_file() {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot read the system's random source: {e}"))?;
        write_private(&generated.token_file, format!("{}\n", hex::encode(bytes)))?;
    }
    let complete = [&generated.ca, &generated.cert, &generated.key]
        .iter()
        .all(|p| p.is_file());
    if !complete {
        let (ca, cert, key) = certificates()
            .map_err(|e| anyhow::anyhow!("cannot generate the pipeline's certificates: {e}"))?;
        write_private(&generated.key, key)?;
        write_private(&generated.cert, cert)?;
        write_private(&generated.ca, ca)?;
    }
    Ok(generated)
}

/// (CA PEM, certificate PEM, key PEM). The CA's key is dropped: nothing
/// else will ever be signed with it.
fn certificates() -> Result<(String, String, String), rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "stellarflow pipeline CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Ok(host) = nix::unistd::gethostname() {
        if let Some(host) = host.to_str().filter(|h| !h.is_empty() && *h != "localhost") {
            names.push(host.to_string());
        }
    }
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "stellarflow pipeline");
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;
    Ok((ca.pem(), cert.pem(), key.serialize_pem()))
}

/// Writes a file only the user can read (the temporary file behind
/// `write_atomic` is created 0600).
fn write_private(path: &Path, text: String) -> anyhow::Result<()> {
    crate::durable::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_private_material_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = generate(dir.path()).unwrap();
        let token = std::fs::read_to_string(&first.token_file).unwrap();
        assert_eq!(token.trim().len(), 64);
        for path in [&first.token_file, &first.key, &first.cert, &first.ca] {
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", path.display());
        }
        let again = generate(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&again.token_file).unwrap(), token);
    }
}
