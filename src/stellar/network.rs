//! Stellar networks: names, passphrases and network ids (sha256 of the
//! passphrase), which key transaction hashes and asset contract ids.

use sha2::{Digest, Sha256};

/// The well-known networks: (name, passphrase).
pub(crate) const KNOWN: &[(&str, &str)] = &[
    ("pubnet", "Public Global Stellar Network ; September 2015"),
    ("testnet", "Test SDF Network ; September 2015"),
    ("futurenet", "Test SDF Future Network ; October 2022"),
    ("standalone", "Standalone Network ; February 2017"),
];

/// A network, identified by its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The passphrase.
    pub passphrase: String,
    /// sha256 of the passphrase.
    pub id: [u8; 32],
}

impl Network {
    /// A network from its passphrase.
    pub fn from_passphrase(passphrase: &str) -> Self {
        Network {
            passphrase: passphrase.to_string(),
            id: Sha256::digest(passphrase.as_bytes()).into(),
        }
    }

    /// Parses `pubnet`, `testnet`, `futurenet`, `standalone` (or the aliases
    /// `mainnet`, `public`, `local`) or a full passphrase. A single word that
    /// is not a known name is refused: it is almost always a typo.
    pub fn parse(text: &str) -> Result<Self, String> {
        let name = match text.trim().to_ascii_lowercase().as_str() {
            "mainnet" | "public" => "pubnet".to_string(),
            "local" | "quickstart" => "standalone".to_string(),
            other => other.to_string(),
        };
        if let Some((_, passphrase)) = KNOWN.iter().find(|(n, _)| *n == name) {
            return Ok(Network::from_passphrase(passphrase));
        }
        if text.contains(' ') {
            return Ok(Network::from_passphrase(text));
        }
        Err(format!(
            "unknown network {text:?}: expected pubnet, testnet, futurenet, standalone or a full passphrase"
        ))
    }

    /// The known network with this id, if any.
    pub(crate) fn from_id(id: &[u8; 32]) -> Option<Self> {
        KNOWN
            .iter()
            .map(|(_, p)| Network::from_passphrase(p))
            .find(|n| &n.id == id)
    }

    /// `pubnet`, `testnet`, ... or the passphrase for other networks.
    pub fn name(&self) -> &str {
        KNOWN
            .iter()
            .find(|(_, p)| *p == self.passphrase)
            .map(|(n, _)| *n)
            .unwrap_or(&self.passphrase)
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.name(), self.passphrase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_reference_table() {
        let pubnet = Network::parse("pubnet").unwrap();
        assert_eq!(
            hex::encode(pubnet.id),
            "7ac33997544e3175d266bd022439b22cdb16508c01163f26e5cb2a3e1045a979"
        );
        let testnet = Network::parse("Test SDF Network ; September 2015").unwrap();
        assert_eq!(testnet.name(), "testnet");
        assert_eq!(Network::from_id(&pubnet.id).unwrap().name(), "pubnet");
        assert!(Network::parse("pubent").is_err());
    }
}
