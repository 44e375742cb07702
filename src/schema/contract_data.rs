//! `contract_data`: one row per Soroban contract-data change (created,
//! updated, removed, restored), with key and value as base64 XDR.

use std::sync::{Arc, OnceLock};

use super::UTC;
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};

/// Schema name.
pub const NAME: &str = "contract_data";
/// Schema version.
pub(crate) const VERSION: &str = "1";

/// The `contract_data` schema.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
            let fields = vec![
                text("change_id", false),
                Field::new("ledger_sequence", DataType::UInt32, false),
                Field::new(
                    "closed_at",
                    DataType::Timestamp(TimeUnit::Second, Some(UTC.into())),
                    false,
                ),
                text("tx_hash", false),
                Field::new("transaction_index", DataType::UInt32, false),
                Field::new("operation_index", DataType::UInt32, true),
                text("contract_id", false),
                text("key_xdr", false),
                text("value_xdr", true),
                text("durability", false),
                text("change_type", false),
                Field::new("successful", DataType::Boolean, false),
            ];
            Arc::new(super::named(fields, NAME, VERSION))
        })
        .clone()
}
