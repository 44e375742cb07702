//! `stellar_ledger`: one row per ledger, its summary and raw
//! `LedgerCloseMeta` XDR (SPEC §4.1).

use std::sync::{Arc, OnceLock};

use super::UTC;
use arrow::array::{
    Array, ArrayBuilder, BinaryArray, FixedSizeBinaryBuilder, Int64Builder, RecordBatch,
    TimestampSecondBuilder, UInt32Array, UInt32Builder,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use bytes::Bytes;

use crate::stellar::LedgerSummary;

/// Schema name.
pub const NAME: &str = "stellar_ledger";
/// Schema version.
pub(crate) const VERSION: &str = "1";

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
    /// Each ledger's XDR and the buffer it is a slice of.
    ledger_xdr: Vec<(Bytes, Bytes)>,
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
            ledger_xdr: Vec::new(),
            bytes: 0,
        }
    }
}

impl LedgerRowsBuilder {
    /// Adds one ledger whose XDR `xdr` is a slice of `origin` (the data-lake
    /// object it came from; `xdr` itself when there is none).
    pub fn push(
        &mut self,
        summary: &LedgerSummary,
        network_id: &[u8; 32],
        xdr: &Bytes,
        origin: &Bytes,
    ) {
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
        self.ledger_xdr.push((xdr.clone(), origin.clone()));
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

    /// The pending rows as a batch; the builder starts over. An error means
    /// the columns disagree with the schema (a bug), or more than 2 GiB of
    /// XDR in one batch.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
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
            Arc::new(binary(std::mem::take(&mut self.ledger_xdr))?),
        ];
        RecordBatch::try_new(schema(), columns)
    }

    /// Whether the next ledger's XDR follows the pending ones in the same
    /// buffer, so that adding it keeps the batch a zero-copy view.
    pub(crate) fn continues(&self, xdr: &Bytes, origin: &Bytes) -> bool {
        match self.ledger_xdr.last() {
            None => true,
            Some((last, last_origin)) => {
                same_buffer(last_origin, origin)
                    && last.as_ptr() as usize + last.len() == xdr.as_ptr() as usize
            }
        }
    }
}

fn same_buffer(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// The `ledger_xdr` column. Ledgers that lie back to back in one buffer
/// (the ledgers of one data-lake object) become a view of it, with no copy
/// of the megabytes of XDR; others are copied into one exact-size buffer.
fn binary(ledgers: Vec<(Bytes, Bytes)>) -> Result<BinaryArray, ArrowError> {
    let mut offsets = Vec::with_capacity(ledgers.len() + 1);
    offsets.push(0i32);
    let mut end = 0usize;
    for (xdr, _) in &ledgers {
        end += xdr.len();
        offsets.push(i32::try_from(end).map_err(|_| {
            ArrowError::InvalidArgumentError(format!(
                "{end} bytes of ledger XDR do not fit one batch"
            ))
        })?);
    }
    let contiguous = ledgers.windows(2).all(|pair| {
        same_buffer(&pair[0].1, &pair[1].1)
            && pair[0].0.as_ptr() as usize + pair[0].0.len() == pair[1].0.as_ptr() as usize
    });
    let values = match ledgers.first() {
        Some((first, origin)) if contiguous => {
            let start = first.as_ptr() as usize - origin.as_ptr() as usize;
            Buffer::from(origin.slice(start..start + end))
        }
        _ => {
            let mut values = Vec::with_capacity(end);
            for (xdr, _) in &ledgers {
                values.extend_from_slice(xdr);
            }
            Buffer::from(values)
        }
    };
    BinaryArray::try_new(OffsetBuffer::new(ScalarBuffer::from(offsets)), values, None)
}

/// Read access to the columns consumers need.
pub(crate) struct LedgerRows<'a> {
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
