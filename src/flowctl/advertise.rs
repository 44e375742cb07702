//! The address a role puts in its registration (`flight_endpoint`,
//! `health_endpoint`). A role bound to `0.0.0.0` must not advertise
//! `0.0.0.0`: peers on other hosts would dial themselves.

use std::net::SocketAddr;

/// `host:port` other hosts can dial for `bound`: the configured
/// `advertise_host` when set; this machine's hostname when bound to an
/// unspecified address; else the bound address itself.
fn advertised(bound: SocketAddr, advertise_host: Option<&str>) -> String {
    let port = bound.port();
    match advertise_host.filter(|h| !h.is_empty()) {
        Some(host) => format!("{host}:{port}"),
        None if bound.ip().is_unspecified() => match hostname() {
            Some(host) => format!("{host}:{port}"),
            None => bound.to_string(),
        },
        None => bound.to_string(),
    }
}

/// How peers reach a role: the `/health` URL and the Flight endpoint it
/// registers with.
pub struct Advertised {
    /// `http://host:port/health`.
    pub health_endpoint: String,
    /// `host:port` of its Arrow Flight service.
    pub flight_endpoint: String,
}

impl Advertised {
    /// The advertised form of a role's bound Flight and HTTP addresses.
    pub fn new(flight: SocketAddr, http: SocketAddr, advertise_host: Option<&str>) -> Self {
        Advertised {
            health_endpoint: format!("http://{}/health", advertised(http, advertise_host)),
            flight_endpoint: advertised(flight, advertise_host),
        }
    }

    /// The registration metadata entry naming the Flight endpoint.
    pub(crate) fn flight_entry(&self) -> (String, String) {
        (
            super::FLIGHT_ENDPOINT_KEY.to_string(),
            self.flight_endpoint.clone(),
        )
    }
}

fn hostname() -> Option<String> {
    let name = nix::unistd::gethostname().ok()?;
    let name = name.to_string_lossy().into_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::advertised;

    #[test]
    fn advertises_a_dialable_host() {
        let any: std::net::SocketAddr = "0.0.0.0:8815".parse().unwrap();
        let local: std::net::SocketAddr = "127.0.0.1:8815".parse().unwrap();
        assert_eq!(advertised(local, None), "127.0.0.1:8815");
        assert_eq!(
            advertised(any, Some("source-1.internal")),
            "source-1.internal:8815"
        );
        let guessed = advertised(any, None);
        assert!(
            guessed.ends_with(":8815") && !guessed.starts_with("0.0.0.0"),
            "{guessed}"
        );
    }
}
