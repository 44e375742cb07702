//! Logging, Prometheus metrics and the `/health` + `/metrics` HTTP endpoints
//! every role serves.

mod counters;
mod http;
mod logging;
mod metrics;
mod reports;

pub use self::counters::RoleCounters;
pub(crate) use self::counters::{CountsInflight, InFlight};
pub use self::http::{admin_router, serve_http, Health};
pub use self::logging::init_logging;
pub use self::metrics::{install_metrics, peak_rss_bytes, LatencyTimer};
pub use self::reports::{RunSummary, SinkProgress};
