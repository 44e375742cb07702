//! Record batches the processor serves: `ttp_event` rows from events and
//! `contract_data` rows from contract-data changes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, RecordBatch, StringBuilder, TimestampSecondBuilder, UInt32Builder,
};
use arrow::error::ArrowError;

use stellar_xdr::Asset;

use super::ttp::TtpEvent;
use crate::schema::contract_data::schema as contract_data_schema;
use crate::schema::ttp::schema;
use crate::schema::UTC;
use crate::stellar::address;

/// The asset columns of one asset.
struct AssetColumns {
    asset: String,
    asset_type: &'static str,
    code: Option<String>,
    issuer: Option<String>,
}

impl AssetColumns {
    fn of(asset: &Asset) -> Self {
        AssetColumns {
            asset: address::asset_string(asset),
            asset_type: address::asset_type(asset),
            code: address::asset_code(asset),
            issuer: address::asset_issuer(asset).map(|i| address::account(i).to_string()),
        }
    }
}

/// Builds a `ttp_event` batch from events. An error means the columns
/// built here disagree with the schema: a bug, reported rather than hidden.
pub fn ttp_batch(events: &[TtpEvent]) -> Result<RecordBatch, ArrowError> {
    let n = events.len();
    // Sized for typical values (strkeys are 56 characters, hashes 64), so
    // that the builders do not grow, and copy, on the way.
    let text = |per_row: usize| StringBuilder::with_capacity(n, n * per_row);
    let (mut id, mut tx_hash, mut kind, mut from, mut to) =
        (text(24), text(64), text(8), text(56), text(56));
    let (mut asset, mut asset_type, mut code, mut issuer, mut amount) =
        (text(64), text(16), text(4), text(56), text(12));
    let (mut contract, mut muxed_id, mut muxed_type) = (text(56), text(0), text(0));
    let mut ledger = UInt32Builder::with_capacity(n);
    let mut closed = TimestampSecondBuilder::with_capacity(n).with_timezone(UTC);
    let mut tx_index = UInt32Builder::with_capacity(n);
    let mut op_index = UInt32Builder::with_capacity(n);
    let mut successful = BooleanBuilder::with_capacity(n);
    // Events of a batch share few assets and runs of one transaction: their
    // renderings are computed once, not per row.
    // Runs of one asset are common, so the last asset is compared before
    // any hashing.
    let mut rendered: Vec<AssetColumns> = Vec::new();
    let mut assets: HashMap<&Asset, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut last_asset: Option<(&Asset, usize)> = None;
    let mut last_tx: Option<([u8; 32], [u8; 64])> = None;
    for e in events {
        // `fmt::Write` on a string builder appends to the current value;
        // `append_value("")` ends it. No String per row.
        // The event id without `fmt`: it shows in profiles.
        let mut digits = itoa::Buffer::new();
        let _ = id.write_str(digits.format(e.ledger_sequence));
        let _ = id.write_str("-");
        let _ = id.write_str(digits.format(e.transaction_index));
        let _ = id.write_str("-");
        let _ = id.write_str(digits.format(e.operation_index.unwrap_or(0)));
        let _ = id.write_str("-");
        id.append_value(digits.format(e.position));
        ledger.append_value(e.ledger_sequence);
        closed.append_value(e.closed_at as i64);
        let hex = match &last_tx {
            Some((hash, hex)) if *hash == e.tx_hash => hex,
            _ => {
                let mut hex = [0u8; 64];
                // Cannot fail: 32 bytes always fit 64 hex digits.
                let _ = hex::encode_to_slice(e.tx_hash, &mut hex);
                &last_tx.insert((e.tx_hash, hex)).1
            }
        };
        tx_hash.append_value(std::str::from_utf8(hex).unwrap_or_default());
        tx_index.append_value(e.transaction_index);
        op_index.append_option(e.operation_index);
        kind.append_value(e.kind.as_str());
        from.append_option(e.from.as_deref());
        to.append_option(e.to.as_deref());
        match &e.asset {
            Some(a) => {
                let slot = match last_asset {
                    Some((prev, slot)) if prev == a => slot,
                    _ => {
                        let slot = *assets.entry(a).or_insert_with(|| {
                            rendered.push(AssetColumns::of(a));
                            rendered.len() - 1
                        });
                        last_asset = Some((a, slot));
                        slot
                    }
                };
                let columns = &rendered[slot];
                asset.append_value(&columns.asset);
                asset_type.append_value(columns.asset_type);
                code.append_option(columns.code.as_deref());
                issuer.append_option(columns.issuer.as_deref());
            }
            None => {
                asset.append_null();
                asset_type.append_null();
                code.append_null();
                issuer.append_null();
            }
        }
        amount.append_value(digits.format(e.amount));
        contract.append_value(&e.contract_address);
        muxed_id.append_option(e.to_muxed.as_ref().map(|m| m.value()));
        muxed_type.append_option(e.to_muxed.as_ref().map(|m| m.kind()));
        successful.append_value(e.successful);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(ledger.finish()),
        Arc::new(closed.finish()),
        Arc::new(tx_hash.finish()),
        Arc::new(tx_index.finish()),
        Arc::new(op_index.finish()),
        Arc::new(kind.finish()),
        Arc::new(from.finish()),
        Arc::new(to.finish()),
        Arc::new(asset.finish()),
        Arc::new(asset_type.finish()),
        Arc::new(code.finish()),
        Arc::new(issuer.finish()),
        Arc::new(amount.finish()),
        Arc::new(contract.finish()),
        Arc::new(muxed_id.finish()),
        Arc::new(muxed_type.finish()),
        Arc::new(successful.finish()),
    ];
    RecordBatch::try_new(schema(), columns)
}

/// One change of a contract-data entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractDataChange {
    /// Ledger sequence.
    pub ledger_sequence: u32,
    /// Close time, unix seconds.
    pub closed_at: u64,
    /// Transaction hash.
    pub tx_hash: [u8; 32],
    /// 1-based apply-order index.
    pub transaction_index: u32,
    /// 1-based operation index; `None` for transaction-level changes.
    pub operation_index: Option<u32>,
    /// Position of the change within its transaction.
    pub position: u32,
    /// Contract strkey (C...).
    pub contract_id: String,
    /// `ScVal` key, XDR base64.
    pub key_xdr: String,
    /// `ScVal` value, XDR base64; `None` when removed.
    pub value_xdr: Option<String>,
    /// `temporary` or `persistent`.
    pub durability: &'static str,
    /// `created`, `updated`, `removed` or `restored`.
    pub change_type: &'static str,
    /// Whether the transaction succeeded.
    pub successful: bool,
}

/// Builds a `contract_data` batch (an error is a bug, as for [`ttp_batch`]).
pub fn contract_data_batch(changes: &[ContractDataChange]) -> Result<RecordBatch, ArrowError> {
    let n = changes.len();
    let text = || StringBuilder::with_capacity(n, n * 48);
    let (mut id, mut tx_hash, mut contract, mut key, mut value) =
        (text(), text(), text(), text(), text());
    let (mut durability, mut change_type) = (text(), text());
    let mut ledger = UInt32Builder::with_capacity(n);
    let mut closed = TimestampSecondBuilder::with_capacity(n).with_timezone(UTC);
    let (mut tx_index, mut op_index) = (
        UInt32Builder::with_capacity(n),
        UInt32Builder::with_capacity(n),
    );
    let mut successful = BooleanBuilder::with_capacity(n);
    for c in changes {
        id.append_value(format!(
            "{}-{}-{}",
            c.ledger_sequence, c.transaction_index, c.position
        ));
        ledger.append_value(c.ledger_sequence);
        closed.append_value(c.closed_at as i64);
        tx_hash.append_value(hex::encode(c.tx_hash));
        tx_index.append_value(c.transaction_index);
        op_index.append_option(c.operation_index);
        contract.append_value(&c.contract_id);
        key.append_value(&c.key_xdr);
        value.append_option(c.value_xdr.as_deref());
        durability.append_value(c.durability);
        change_type.append_value(c.change_type);
        successful.append_value(c.successful);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(ledger.finish()),
        Arc::new(closed.finish()),
        Arc::new(tx_hash.finish()),
        Arc::new(tx_index.finish()),
        Arc::new(op_index.finish()),
        Arc::new(contract.finish()),
        Arc::new(key.finish()),
        Arc::new(value.finish()),
        Arc::new(durability.finish()),
        Arc::new(change_type.finish()),
        Arc::new(successful.finish()),
    ];
    RecordBatch::try_new(contract_data_schema(), columns)
}
