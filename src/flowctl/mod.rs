//! The flowctl client every role shares (seed 001 phase 1, seed 000 phase 3):
//! registration with retry and a simulated id while the control plane is
//! away, heartbeats carrying the role's metrics, discovery of upstream
//! services, and the flow-control signal. Also home of the generated protos.

mod advertise;
mod channel;
mod controller;
mod discovery;
pub mod proto;

pub use advertise::Advertised;
pub use channel::{connect, endpoint_uri, ClientTls};
pub use controller::{registry_client, Controller, ControllerConfig, FlowSignal, MetricsProvider};
pub use discovery::{choose_endpoint, default_endpoint, Upstream, UpstreamWatch};

/// Event type produced by sources.
pub const STELLAR_LEDGER_EVENT: &str = "stellar_ledger_service.StellarLedger";
/// Event type produced by the TTP processor.
pub const TTP_EVENT: &str = "ttp_event_service.TTPEvent";
/// Event type produced by the contract-data processor.
pub(crate) const CONTRACT_DATA_EVENT: &str = "stellar.ContractDataEntry";

/// Registration metadata key holding a service's Arrow Flight address.
pub(crate) const FLIGHT_ENDPOINT_KEY: &str = "flight_endpoint";
/// Registration metadata key holding the network passphrase.
pub(crate) const NETWORK_KEY: &str = "network";
