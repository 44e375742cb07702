//! `stellar_ledger_object`: one row per data-lake object as stored, its
//! ledger range and compressed bytes. A source sends this form only when a
//! consumer asks for it (`"form": "objects"` in the ticket); our processor
//! does, because passing on the compressed object costs a seventh of the
//! bytes of `stellar_ledger` and leaves the one walk of each ledger to the
//! processor. The object is checked by whoever decompresses it.

use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayBuilder, BinaryArray, BinaryBuilder, FixedSizeBinaryArray, FixedSizeBinaryBuilder,
    RecordBatch, StringArray, StringBuilder, UInt32Array, UInt32Builder,
};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;

/// Schema name.
pub const NAME: &str = "stellar_ledger_object";
/// Schema version.
pub(crate) const VERSION: &str = "1";

/// The `stellar_ledger_object` schema.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let fields = vec![
                Field::new("first_ledger", DataType::UInt32, false),
                Field::new("last_ledger", DataType::UInt32, false),
                Field::new("network_id", DataType::FixedSizeBinary(32), false),
                Field::new("object_key", DataType::Utf8, false),
                Field::new("object_zstd", DataType::Binary, false),
            ];
            Arc::new(super::named(fields, NAME, VERSION))
        })
        .clone()
}

/// Whether `batch` holds objects rather than `stellar_ledger` rows.
pub(crate) fn is_objects(batch: &RecordBatch) -> bool {
    batch
        .schema_ref()
        .metadata()
        .get(super::NAME_KEY)
        .is_some_and(|name| name == NAME)
}

/// Accumulates object rows into a record batch.
pub(crate) struct ObjectRowsBuilder {
    first: UInt32Builder,
    last: UInt32Builder,
    network_id: FixedSizeBinaryBuilder,
    key: StringBuilder,
    object: BinaryBuilder,
    bytes: usize,
}

impl Default for ObjectRowsBuilder {
    fn default() -> Self {
        ObjectRowsBuilder {
            first: UInt32Builder::new(),
            last: UInt32Builder::new(),
            network_id: FixedSizeBinaryBuilder::new(32),
            key: StringBuilder::new(),
            object: BinaryBuilder::new(),
            bytes: 0,
        }
    }
}

impl ObjectRowsBuilder {
    /// Adds one object holding ledgers `first..=last`.
    pub fn push(&mut self, first: u32, last: u32, network_id: &[u8; 32], key: &str, zstd: &[u8]) {
        self.first.append_value(first);
        self.last.append_value(last);
        // A fixed-size append of 32 bytes cannot fail.
        let _ = self.network_id.append_value(network_id);
        self.key.append_value(key);
        self.object.append_value(zstd);
        self.bytes += zstd.len() + key.len() + 48;
    }

    /// Rows added since the last `finish`.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    /// Approximate size of the pending rows.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The pending rows as a batch; the builder starts over.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.bytes = 0;
        let columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(self.first.finish()),
            Arc::new(self.last.finish()),
            Arc::new(self.network_id.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.object.finish()),
        ];
        RecordBatch::try_new(schema(), columns)
    }
}

/// Read access to an object batch's columns.
pub(crate) struct ObjectRows<'a> {
    /// `first_ledger`.
    pub first: &'a UInt32Array,
    /// `last_ledger`.
    pub last: &'a UInt32Array,
    /// `network_id`.
    pub network_id: &'a FixedSizeBinaryArray,
    /// `object_key`.
    pub key: &'a StringArray,
    /// `object_zstd`.
    pub object: &'a BinaryArray,
}

impl<'a> ObjectRows<'a> {
    /// Checks the batch's schema and exposes its columns.
    pub fn of(batch: &'a RecordBatch) -> Result<Self, String> {
        super::expect(batch.schema_ref(), NAME, VERSION)?;
        fn column<'b, T: 'static>(batch: &'b RecordBatch, name: &str) -> Result<&'b T, String> {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<T>())
                .ok_or_else(|| format!("{NAME} batch without a `{name}` column of its type"))
        }
        Ok(ObjectRows {
            first: column(batch, "first_ledger")?,
            last: column(batch, "last_ledger")?,
            network_id: column(batch, "network_id")?,
            key: column(batch, "object_key")?,
            object: column(batch, "object_zstd")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_the_form_is_recognised() {
        let mut rows = ObjectRowsBuilder::default();
        rows.push(5, 5, &[7; 32], "a/5.xdr.zst", b"zstd bytes");
        rows.push(6, 9, &[7; 32], "a/6.xdr.zst", b"more");
        let batch = rows.finish().unwrap();
        assert!(is_objects(&batch));
        let read = ObjectRows::of(&batch).unwrap();
        assert_eq!(read.last.value(1), 9);
        assert_eq!(read.key.value(0), "a/5.xdr.zst");
        assert_eq!(read.object.value(1), b"more");
        assert_eq!(rows.len(), 0);
        let ledgers = crate::schema::ledger::LedgerRowsBuilder::default()
            .finish()
            .unwrap();
        assert!(!is_objects(&ledgers));
        assert!(ObjectRows::of(&ledgers).is_err());
    }
}
