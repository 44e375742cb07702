//! The Arrow schemas roles exchange and write: `stellar_ledger` and
//! `stellar_ledger_object` (source → processor), `ttp_event` and `contract_data` (processor → sink → files).
//! Each carries its name and version in the schema metadata.

pub mod contract_data;
pub mod ledger;
pub mod ledger_object;
pub mod ttp;

use std::collections::HashMap;

use arrow::datatypes::{Field, Schema};

/// The time zone of every timestamp column: UTC written as an offset, which
/// JSON and CSV writers format without a time-zone database.
pub(crate) const UTC: &str = "+00:00";

/// Schema metadata key holding the schema's name.
pub(crate) const NAME_KEY: &str = "stellarflow.schema";
/// Schema metadata key holding the schema's version.
pub(crate) const VERSION_KEY: &str = "stellarflow.schema_version";

/// A schema with its name and version in the metadata.
pub fn named(fields: Vec<Field>, name: &str, version: &str) -> Schema {
    let metadata: HashMap<String, String> = [
        (NAME_KEY.to_string(), name.to_string()),
        (VERSION_KEY.to_string(), version.to_string()),
    ]
    .into();
    Schema::new_with_metadata(fields, metadata)
}

/// Checks that `schema` is `name` at `version`, for consumers that must not
/// misread an upstream's rows.
pub fn expect(schema: &Schema, name: &str, version: &str) -> Result<(), String> {
    let got_name = schema
        .metadata
        .get(NAME_KEY)
        .map(String::as_str)
        .unwrap_or("(none)");
    let got_version = schema
        .metadata
        .get(VERSION_KEY)
        .map(String::as_str)
        .unwrap_or("(none)");
    if got_name != name || got_version != version {
        return Err(format!(
            "schema mismatch: expected {name} version {version}, upstream sent {got_name} version {got_version}"
        ));
    }
    Ok(())
}
