//! stellarflow turns Stellar ledgers into analytics-ready token-transfer data.
//!
//! One binary, several roles: `source` reads ledgers and serves them over
//! Arrow Flight, `process` extracts token-transfer events, `sink` writes them
//! out, `controlplane` is a flowctl-compatible registry, and `pipeline` runs
//! and supervises all of them. Each role has its own folder; shared code
//! lives in `config`, `flowctl`, `telemetry`, `stellar`, `schema`, `flight`,
//! `durable` and `retry`.

#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod controlplane;
mod durable;
pub mod flight;
pub mod flowctl;
pub mod generate;
pub mod listen;
pub mod pipeline;
pub mod processor;
mod retry;
pub mod runtime;
pub mod schema;
pub mod security;
pub mod sink;
pub mod source;
pub mod stellar;
pub mod telemetry;
