//! `ttp_event`: one row per token-transfer event (SPEC §4.2). Amounts are
//! exact decimal strings of the raw integer (i128 range, refunds negative).

use std::sync::{Arc, OnceLock};

use super::UTC;
use arrow::array::{Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};

/// Schema name.
pub const NAME: &str = "ttp_event";
/// Schema version.
pub const VERSION: &str = "1";

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

/// Read access to the columns consumers filter and aggregate on.
pub struct EventColumns<'a> {
    /// `event_id`.
    pub event_id: &'a StringArray,
    /// `ledger_sequence`.
    pub ledger_sequence: &'a UInt32Array,
    /// `event_type`.
    pub event_type: &'a StringArray,
    /// `from`.
    pub from: &'a StringArray,
    /// `to`.
    pub to: &'a StringArray,
    /// `asset`.
    pub asset: &'a StringArray,
    /// `amount`.
    pub amount: &'a StringArray,
    /// `contract_address`.
    pub contract_address: &'a StringArray,
}

impl<'a> EventColumns<'a> {
    /// Checks the schema and exposes the columns.
    pub fn of(batch: &'a RecordBatch) -> Result<Self, String> {
        super::expect(batch.schema_ref(), NAME, VERSION)?;
        let text = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(|| format!("ttp_event batch without a utf8 `{name}` column"))
        };
        Ok(EventColumns {
            event_id: text("event_id")?,
            ledger_sequence: batch
                .column_by_name("ledger_sequence")
                .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
                .ok_or("ttp_event batch without a u32 `ledger_sequence` column")?,
            event_type: text("event_type")?,
            from: text("from")?,
            to: text("to")?,
            asset: text("asset")?,
            amount: text("amount")?,
            contract_address: text("contract_address")?,
        })
    }

    /// A nullable string cell.
    pub fn get(column: &StringArray, row: usize) -> Option<&str> {
        (!column.is_null(row)).then(|| column.value(row))
    }
}
