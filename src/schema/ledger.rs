//! `stellar_ledger`: one row per ledger, its summary and raw
//! `LedgerCloseMeta` XDR (SPEC §4.1).

use std::sync::{Arc, OnceLock};

use super::UTC;
use arrow::array::{
    Array, ArrayBuilder, BinaryArray, BinaryBuilder, FixedSizeBinaryBuilder, Int64Builder,
    RecordBatch, TimestampSecondBuilder, UInt32Array, UInt32Builder,
};
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};

use crate::stellar::LedgerSummary;

/// Schema name.
pub const NAME: &str = "stellar_ledger";
/// Schema version.
pub const VERSION: &str = "1";

/// The `stellar_ledger` schema.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let hash = || DataType::FixedSizeBinary(32);
            let fields = vec![
                Field::new("sequence", DataType::UInt32, false),
                Field::new("hash", hash(), false),
                Field::new("previous_hash", hash(), false),
                Field::new(
                    "close_time",
                    DataType::Timestamp(TimeUnit::Second, Some(UTC.into())),
                    false,
                ),
                Field::new("protocol_version", DataType::UInt32, false),
                Field::new("network_id", hash(), false),
                Field::new("transaction_count", DataType::UInt32, false),
                Field::new("successful_transaction_count", DataType::UInt32, false),
                Field::new("failed_transaction_count", DataType::UInt32, false),
                Field::new("operation_count", DataType::UInt32, false),
                Field::new("total_fee_charged", DataType::Int64, false),
                Field::new("base_fee", DataType::UInt32, false),
                Field::new("base_reserve", DataType::UInt32, false),
                Field::new("max_tx_set_size", DataType::UInt32, false),
                Field::new("ledger_xdr", DataType::Binary, false),
            ];
            Arc::new(super::named(fields, NAME, VERSION))
        })
        .clone()
}

/// Accumulates ledger rows into a record batch.
pub struct LedgerRowsBuilder {
    sequence: UInt32Builder,
    hash: FixedSizeBinaryBuilder,
    previous_hash: FixedSizeBinaryBuilder,
    close_time: TimestampSecondBuilder,
    protocol_version: UInt32Builder,
    network_id: FixedSizeBinaryBuilder,
    transaction_count: UInt32Builder,
    successful: UInt32Builder,
    failed: UInt32Builder,
    operation_count: UInt32Builder,
    total_fee_charged: Int64Builder,
    base_fee: UInt32Builder,
    base_reserve: UInt32Builder,
    max_tx_set_size: UInt32Builder,
    ledger_xdr: BinaryBuilder,
    bytes: usize,
}

impl Default for LedgerRowsBuilder {
    fn default() -> Self {
        let hash = || FixedSizeBinaryBuilder::new(32);
        LedgerRowsBuilder {
            sequence: UInt32Builder::new(),
            hash: hash(),
            previous_hash: hash(),
            close_time: TimestampSecondBuilder::new().with_timezone(UTC),
            protocol_version: UInt32Builder::new(),
            network_id: hash(),
            transaction_count: UInt32Builder::new(),
            successful: UInt32Builder::new(),
            failed: UInt32Builder::new(),
            operation_count: UInt32Builder::new(),
            total_fee_charged: Int64Builder::new(),
            base_fee: UInt32Builder::new(),
            base_reserve: UInt32Builder::new(),
            max_tx_set_size: UInt32Builder::new(),
            ledger_xdr: BinaryBuilder::new(),
            bytes: 0,
        }
    }
}

impl LedgerRowsBuilder {
    /// Adds one ledger.
    pub fn push(&mut self, summary: &LedgerSummary, network_id: &[u8; 32], xdr: &[u8]) {
        self.sequence.append_value(summary.sequence);
        // Fixed-size appends of 32 bytes cannot fail.
        let _ = self.hash.append_value(summary.hash);
        let _ = self.previous_hash.append_value(summary.previous_hash);
        self.close_time.append_value(summary.close_time as i64);
        self.protocol_version.append_value(summary.protocol_version);
        let _ = self.network_id.append_value(network_id);
        self.transaction_count
            .append_value(summary.transaction_count);
        self.successful
            .append_value(summary.successful_transaction_count);
        self.failed.append_value(summary.failed_transaction_count);
        self.operation_count.append_value(summary.operation_count);
        self.total_fee_charged
            .append_value(summary.total_fee_charged);
        self.base_fee.append_value(summary.base_fee);
        self.base_reserve.append_value(summary.base_reserve);
        self.max_tx_set_size.append_value(summary.max_tx_set_size);
        self.ledger_xdr.append_value(xdr);
        self.bytes += xdr.len() + 200;
    }

    /// Rows added since the last `finish`.
    pub fn len(&self) -> usize {
        self.sequence.len()
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate size of the pending rows.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The pending rows as a batch; the builder starts over.
    pub fn finish(&mut self) -> RecordBatch {
        self.bytes = 0;
        let columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(self.sequence.finish()),
            Arc::new(self.hash.finish()),
            Arc::new(self.previous_hash.finish()),
            Arc::new(self.close_time.finish()),
            Arc::new(self.protocol_version.finish()),
            Arc::new(self.network_id.finish()),
            Arc::new(self.transaction_count.finish()),
            Arc::new(self.successful.finish()),
            Arc::new(self.failed.finish()),
            Arc::new(self.operation_count.finish()),
            Arc::new(self.total_fee_charged.finish()),
            Arc::new(self.base_fee.finish()),
            Arc::new(self.base_reserve.finish()),
            Arc::new(self.max_tx_set_size.finish()),
            Arc::new(self.ledger_xdr.finish()),
        ];
        // The columns match the schema by construction.
        RecordBatch::try_new(schema(), columns).unwrap_or_else(|_| RecordBatch::new_empty(schema()))
    }
}

/// Read access to the columns consumers need.
pub struct LedgerRows<'a> {
    /// `sequence`.
    pub sequence: &'a UInt32Array,
    /// `ledger_xdr`.
    pub ledger_xdr: &'a BinaryArray,
}

impl<'a> LedgerRows<'a> {
    /// Checks the batch's schema and exposes its columns.
    pub fn of(batch: &'a RecordBatch) -> Result<Self, String> {
        super::expect(batch.schema_ref(), NAME, VERSION)?;
        let sequence = batch
            .column_by_name("sequence")
            .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
            .ok_or("stellar_ledger batch without a u32 `sequence` column")?;
        let ledger_xdr = batch
            .column_by_name("ledger_xdr")
            .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
            .ok_or("stellar_ledger batch without a binary `ledger_xdr` column")?;
        Ok(LedgerRows {
            sequence,
            ledger_xdr,
        })
    }
}
