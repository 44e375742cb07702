//! `ttp_event`: one row per token-transfer event (SPEC §4.2). Amounts are
//! exact decimal strings of the raw integer (i128 range, refunds negative).

use std::sync::{Arc, OnceLock};

use super::UTC;
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};

/// Schema name.
pub const NAME: &str = "ttp_event";
/// Schema version.
pub(crate) const VERSION: &str = "1";

/// The `ttp_event` schema.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
            let fields = vec![
                text("event_id", false),
                Field::new("ledger_sequence", DataType::UInt32, false),
                Field::new(
                    "closed_at",
                    DataType::Timestamp(TimeUnit::Second, Some(UTC.into())),
                    false,
                ),
                text("tx_hash", false),
                Field::new("transaction_index", DataType::UInt32, false),
                Field::new("operation_index", DataType::UInt32, true),
                text("event_type", false),
                text("from", true),
                text("to", true),
                text("asset", true),
                text("asset_type", true),
                text("asset_code", true),
                text("asset_issuer", true),
                text("amount", false),
                text("contract_address", false),
                text("to_muxed_id", true),
                text("to_muxed_type", true),
                Field::new("successful", DataType::Boolean, false),
            ];
            Arc::new(super::named(fields, NAME, VERSION))
        })
        .clone()
}
