//! `--event-types`, `--assets`, `--accounts`, `--contracts`: which events
//! the processor serves. Filters apply after event ids are assigned, so an
//! event keeps its id whatever else is filtered out.

use std::collections::HashSet;

use super::ttp::{EventKind, TtpEvent};
use crate::config::{ConfigError, ProcessorSettings};
use crate::stellar::address;

/// The event filter; empty lists keep everything.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    kinds: HashSet<EventKind>,
    assets: HashSet<String>,
    accounts: HashSet<String>,
    contracts: HashSet<String>,
}

fn bad(flag: &str, value: &str, allowed: &str) -> ConfigError {
    ConfigError(format!(
        "invalid value for {flag}: {value:?} (expected {allowed})"
    ))
}

impl Filter {
    /// Builds and validates the filter.
    pub(crate) fn from_settings(settings: &ProcessorSettings) -> Result<Self, ConfigError> {
        let mut filter = Filter::default();
        for name in &settings.event_types {
            let kind = EventKind::parse(name).ok_or_else(|| {
                bad(
                    "--event-types",
                    name,
                    "fee, transfer, mint, burn or clawback",
                )
            })?;
            filter.kinds.insert(kind);
        }
        for asset in &settings.assets {
            let parsed = address::parse_asset(asset).ok_or_else(|| {
                bad(
                    "--assets",
                    asset,
                    "native or CODE:ISSUER with a G... issuer",
                )
            })?;
            filter.assets.insert(address::asset_string(&parsed));
        }
        for account in &settings.accounts {
            if account.parse::<stellar_xdr::ScAddress>().is_err() {
                return Err(bad(
                    "--accounts",
                    account,
                    "G..., M..., C..., B... or L... addresses",
                ));
            }
            filter.accounts.insert(account.clone());
        }
        for contract in &settings.contracts {
            if !contract.starts_with('C') || contract.parse::<stellar_xdr::ScAddress>().is_err() {
                return Err(bad("--contracts", contract, "C... contract addresses"));
            }
            filter.contracts.insert(contract.clone());
        }
        Ok(filter)
    }

    /// Whether the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
            && self.assets.is_empty()
            && self.accounts.is_empty()
            && self.contracts.is_empty()
    }

    /// Whether `event` passes.
    pub fn keep(&self, event: &TtpEvent) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&event.kind))
            && (self.assets.is_empty()
                || event
                    .asset_string()
                    .is_some_and(|a| self.assets.contains(&a)))
            && (self.accounts.is_empty()
                || [&event.from, &event.to]
                    .into_iter()
                    .any(|h| h.as_ref().is_some_and(|h| self.accounts.contains(&**h))))
            && (self.contracts.is_empty() || self.contracts.contains(&*event.contract_address))
    }
}
