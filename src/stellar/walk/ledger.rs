//! One pass over a `LedgerCloseMeta`'s bytes that validates all of it (as
//! `stellar-xdr` would) and records where the parts the source and the
//! token-transfer rules read sit: header fields, each envelope with its
//! operation count, and per transaction in apply order its hash, fee,
//! result code, the spans of its result, fee changes and meta, and for
//! `TransactionMeta` V4 the spans of its fee and operation events.
//!
//! The index holds offsets, not borrowed slices, so one index can be
//! refilled ledger after ledger without allocating.

use std::ops::Range;

use super::reader::{Error, Reader};
use super::skip::*;

/// A part of the ledger's bytes and the depth still available where it
/// starts (what decoding it alone with `stellar-xdr` must be given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
    /// Depth levels left at `start`.
    pub depth: u32,
}

impl Span {
    /// The bytes of this span in `xdr`.
    pub fn of<'a>(&self, xdr: &'a [u8]) -> &'a [u8] {
        &xdr[self.start as usize..self.end as usize]
    }
}

/// The header fields stellarflow reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Header {
    /// The hash stored beside the header in `LedgerHeaderHistoryEntry`.
    pub stored_hash: [u8; 32],
    /// The `LedgerHeader` XDR (its sha256 is the ledger hash).
    pub span: Span,
    /// Protocol version.
    pub ledger_version: u32,
    /// `previousLedgerHash`.
    pub previous_hash: [u8; 32],
    /// `scpValue.closeTime`, unix seconds.
    pub close_time: u64,
    /// `ledgerSeq`.
    pub ledger_seq: u32,
    /// `baseFee`.
    pub base_fee: u32,
    /// `baseReserve`.
    pub base_reserve: u32,
    /// `maxTxSetSize`.
    pub max_tx_set_size: u32,
    /// Whether the header bytes are what `stellar-xdr` would write for
    /// them, so that their sha256 is the hash of the decoded header.
    pub canonical: bool,
}

/// `EnvelopeType` values of the three envelope kinds.
pub const ENVELOPE_TX_V0: i32 = 0;
/// A V1 transaction envelope.
pub const ENVELOPE_TX: i32 = 2;
/// A fee-bump envelope.
pub const ENVELOPE_TX_FEE_BUMP: i32 = 5;

/// One envelope of the transaction set.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvelopeRef {
    /// The whole `TransactionEnvelope`.
    pub span: Span,
    /// `ENVELOPE_TX_V0`, `ENVELOPE_TX` or `ENVELOPE_TX_FEE_BUMP`.
    pub kind: i32,
    /// Operations of the (inner) transaction.
    pub operations: u32,
    /// What the transaction hash covers: the `Transaction` (V1) or the
    /// `FeeBumpTransaction`; for V0 the `TransactionV0`, which must be
    /// converted before hashing.
    pub signed: Span,
    /// Whether the envelope's bytes are what `stellar-xdr` would write for
    /// it (otherwise hash the decoded envelope, as the reference does).
    pub canonical: bool,
    /// The (inner) transaction's source: a `MuxedAccount`, or for V0 the
    /// raw `uint256` key.
    pub source: Span,
    /// A fee bump's `feeSource` (`MuxedAccount`); otherwise empty.
    pub fee_source: Span,
    /// The (inner) transaction's `seqNum`.
    pub seq_num: i64,
    /// The (inner) transaction's `Memo`.
    pub memo: Span,
    /// The (inner) transaction's `Operation operations<100>`.
    pub operations_span: Span,
    /// Whether the (inner) transaction carries Soroban data (`ext` v1).
    pub soroban: bool,
}

/// The parts of a (V0 or V1) transaction the token-transfer rules read.
#[derive(Debug, Clone, Copy, Default)]
struct TxParts {
    source: Span,
    seq_num: i64,
    memo: Span,
    operations: Span,
    count: u32,
    soroban: bool,
}

/// `TransactionResultCode` values that count as success.
pub const TX_SUCCESS: i32 = 0;
/// A fee-bump whose inner transaction succeeded.
pub const TX_FEE_BUMP_INNER_SUCCESS: i32 = 1;

/// One transaction in apply order.
#[derive(Debug, Clone, Default)]
pub struct TxRef {
    /// `TransactionResultPair.transactionHash`.
    pub hash: [u8; 32],
    /// `TransactionResult.feeCharged`.
    pub fee_charged: i64,
    /// `TransactionResult.result` discriminant.
    pub result_code: i32,
    /// The `TransactionResultPair`.
    pub result: Span,
    /// `feeProcessing` (`LedgerEntryChanges`).
    pub fee_processing: Span,
    /// `txApplyProcessing` (`TransactionMeta`).
    pub meta: Span,
    /// The `TransactionMeta` version.
    pub meta_version: i32,
    /// `postTxApplyFeeProcessing` (LCM V2 only).
    pub post_fee_processing: Option<Span>,
    /// V4 meta: this transaction's events (`TransactionEvent`s) in
    /// [`LedgerIndex::events`].
    pub tx_events: Range<u32>,
    /// V4 meta: one range of [`LedgerIndex::events`] per operation, in
    /// [`LedgerIndex::op_events`].
    pub ops: Range<u32>,
}

impl TxRef {
    /// `txSUCCESS` or `txFEE_BUMP_INNER_SUCCESS`.
    pub fn successful(&self) -> bool {
        matches!(self.result_code, TX_SUCCESS | TX_FEE_BUMP_INNER_SUCCESS)
    }
}

/// A `ContractEvent` inside a V4 meta.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventRef {
    /// The `ContractEvent`.
    pub span: Span,
    /// `TransactionEventStage` for transaction-level events, -1 for
    /// operation events.
    pub stage: i32,
}

/// Where everything sits in one `LedgerCloseMeta`.
#[derive(Debug, Clone, Default)]
pub struct LedgerIndex {
    /// `LedgerCloseMeta` version (0, 1 or 2).
    pub version: i32,
    /// Header fields.
    pub header: Header,
    /// Envelopes in tx-set order.
    pub envelopes: Vec<EnvelopeRef>,
    /// Transactions in apply order.
    pub txs: Vec<TxRef>,
    /// Every V4 event, transaction-level and per operation.
    pub events: Vec<EventRef>,
    /// Per operation of a V4 meta, its range of `events`.
    pub op_events: Vec<Range<u32>>,
}

fn u32_at(xdr: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&xdr[at..at + 4]);
    u32::from_be_bytes(b)
}

fn u64_at(xdr: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&xdr[at..at + 8]);
    u64::from_be_bytes(b)
}

fn hash_at(xdr: &[u8], at: usize) -> [u8; 32] {
    let mut b = [0u8; 32];
    b.copy_from_slice(&xdr[at..at + 32]);
    b
}

/// Walks a variable-length array: one depth level, its length (refused
/// above `max`) and each element.
fn array(
    r: &mut Reader<'_>,
    max: u64,
    mut each: impl FnMut(&mut Reader<'_>) -> Result<(), Error>,
) -> Result<u32, Error> {
    r.enter()?;
    let n = r.len(max)?;
    for _ in 0..n {
        each(r)?;
    }
    r.leave();
    Ok(n)
}

/// Runs `f` and returns the span it walked.
fn span(
    r: &mut Reader<'_>,
    f: impl FnOnce(&mut Reader<'_>) -> Result<(), Error>,
) -> Result<Span, Error> {
    let start = r.pos() as u32;
    let depth = r.depth();
    f(r)?;
    Ok(Span {
        start,
        end: r.pos() as u32,
        depth,
    })
}

/// The four-byte discriminant at the reader's position, before it is read
/// (and validated) by a skipper.
fn peek_i32(r: &Reader<'_>, xdr: &[u8]) -> i32 {
    let at = r.pos();
    if at + 4 <= xdr.len() {
        u32_at(xdr, at) as i32
    } else {
        -1
    }
}

impl LedgerIndex {
    /// Indexes one `LedgerCloseMeta` that must fill all of `xdr`.
    pub fn build(xdr: &[u8], depth: u32) -> Result<Self, Error> {
        let mut index = LedgerIndex::default();
        index.fill(xdr, depth)?;
        Ok(index)
    }

    /// Indexes one `LedgerCloseMeta` that must fill all of `xdr`, reusing
    /// this index's storage.
    pub(crate) fn fill(&mut self, xdr: &[u8], depth: u32) -> Result<(), Error> {
        let mut r = Reader::new(xdr, depth);
        self.read(&mut r, xdr)?;
        if r.remaining() > 0 {
            // As `stellar-xdr`'s `from_xdr`: input left over is invalid.
            return Err(Error::Invalid);
        }
        Ok(())
    }

    /// Indexes the `LedgerCloseMeta` at the reader's position and leaves
    /// the reader after it; spans are relative to `xdr`, which must be the
    /// reader's whole input.
    pub(crate) fn read(&mut self, r: &mut Reader<'_>, xdr: &[u8]) -> Result<(), Error> {
        self.envelopes.clear();
        self.txs.clear();
        self.events.clear();
        self.op_events.clear();
        r.enter()?;
        self.version = r.i32()?;
        match self.version {
            0 => {
                r.enter()?;
                self.header_entry(r, xdr)?;
                // TransactionSet { previousLedgerHash, txs<> }
                r.enter()?;
                skip_hash(r)?;
                array(r, u64::from(u32::MAX), |r| self.envelope(r, xdr))?;
                r.leave();
                array(r, u64::from(u32::MAX), |r| self.result_meta(r, xdr, false))?;
                array(r, u64::from(u32::MAX), skip_upgrade_entry_meta)?;
                array(r, u64::from(u32::MAX), skip_scp_history_entry)?;
                r.leave();
            }
            1 | 2 => {
                let v2 = self.version == 2;
                r.enter()?;
                skip_ledger_close_meta_ext(r)?;
                self.header_entry(r, xdr)?;
                self.generalized_set(r, xdr)?;
                array(r, u64::from(u32::MAX), |r| self.result_meta(r, xdr, v2))?;
                array(r, u64::from(u32::MAX), skip_upgrade_entry_meta)?;
                array(r, u64::from(u32::MAX), skip_scp_history_entry)?;
                r.u64()?; // totalByteSizeOfLiveSorobanState
                array(r, u64::from(u32::MAX), skip_ledger_key)?;
                if !v2 {
                    array(r, u64::from(u32::MAX), skip_ledger_entry)?; // unused
                }
                r.leave();
            }
            _ => return Err(Error::Invalid),
        }
        r.leave();
        Ok(())
    }

    /// `LedgerHeaderHistoryEntry { hash, header, ext }`.
    fn header_entry(&mut self, r: &mut Reader<'_>, xdr: &[u8]) -> Result<(), Error> {
        r.enter()?;
        let hash = span(r, skip_hash)?;
        // LedgerHeader: 36 fixed bytes, StellarValue, 236 fixed bytes, ext.
        let start = r.pos();
        let mut scp_end = 0;
        let earlier = std::mem::take(&mut r.noncanonical);
        let header = span(r, |r| {
            r.enter()?;
            r.skip(36, 2)?;
            skip_stellar_value(r)?;
            scp_end = r.pos();
            r.skip(236, 3)?;
            skip_ledger_header_ext(r)?;
            r.leave();
            Ok(())
        })?;
        let canonical = !r.noncanonical;
        r.noncanonical |= earlier;
        skip_ledger_header_history_entry_ext(r)?;
        r.leave();
        self.header = Header {
            stored_hash: hash_at(xdr, hash.start as usize),
            span: header,
            ledger_version: u32_at(xdr, start),
            previous_hash: hash_at(xdr, start + 4),
            close_time: u64_at(xdr, start + 68),
            ledger_seq: u32_at(xdr, scp_end + 64),
            base_fee: u32_at(xdr, scp_end + 96),
            base_reserve: u32_at(xdr, scp_end + 100),
            max_tx_set_size: u32_at(xdr, scp_end + 104),
            canonical,
        };
        Ok(())
    }

    /// `GeneralizedTransactionSet` (only v1 exists): phases of components
    /// or of parallel stages, all holding envelopes.
    fn generalized_set(&mut self, r: &mut Reader<'_>, xdr: &[u8]) -> Result<(), Error> {
        r.enter()?;
        if r.i32()? != 1 {
            return Err(Error::Invalid);
        }
        r.enter()?; // TransactionSetV1
        skip_hash(r)?;
        array(r, u64::from(u32::MAX), |r| {
            r.enter()?; // TransactionPhase
            match r.i32()? {
                0 => {
                    array(r, u64::from(u32::MAX), |r| {
                        r.enter()?; // TxSetComponent
                        if skip_tx_set_component_type(r)? != 0 {
                            return Err(Error::Invalid);
                        }
                        r.enter()?; // txsMaybeDiscountedFee
                        r.enter()?;
                        if r.present()? {
                            r.i64()?;
                        }
                        r.leave();
                        array(r, u64::from(u32::MAX), |r| self.envelope(r, xdr))?;
                        r.leave();
                        r.leave();
                        Ok(())
                    })?;
                }
                1 => {
                    r.enter()?; // ParallelTxsComponent
                    r.enter()?;
                    if r.present()? {
                        r.i64()?;
                    }
                    r.leave();
                    array(r, u64::from(u32::MAX), |r| {
                        r.enter()?; // ParallelTxExecutionStage
                        array(r, u64::from(u32::MAX), |r| {
                            r.enter()?; // DependentTxCluster
                            array(r, u64::from(u32::MAX), |r| self.envelope(r, xdr))?;
                            r.leave();
                            Ok(())
                        })?;
                        r.leave();
                        Ok(())
                    })?;
                    r.leave();
                }
                _ => return Err(Error::Invalid),
            }
            r.leave();
            Ok(())
        })?;
        r.leave();
        r.leave();
        Ok(())
    }

    /// `TransactionEnvelope`: its kind, operation count and signed part.
    fn envelope(&mut self, r: &mut Reader<'_>, _xdr: &[u8]) -> Result<(), Error> {
        let start = r.pos() as u32;
        let depth = r.depth();
        let earlier = std::mem::take(&mut r.noncanonical);
        r.enter()?;
        let kind = skip_envelope_type(r)?;
        let (parts, fee_source, signed) = match kind {
            ENVELOPE_TX_V0 => {
                r.enter()?; // TransactionV0Envelope
                let mut parts = TxParts::default();
                let signed = span(r, |r| {
                    r.enter()?;
                    parts.source = span(r, |r| r.skip(32, 2))?; // sourceAccountEd25519
                    r.u32()?; // fee
                    parts.seq_num = seq_num(r)?;
                    r.enter()?;
                    if r.present()? {
                        skip_time_bounds(r)?;
                    }
                    r.leave();
                    parts.memo = span(r, skip_memo)?;
                    parts.operations = span(r, |r| {
                        parts.count = array(r, 100, skip_operation)?;
                        Ok(())
                    })?;
                    skip_transaction_v0_ext(r)?;
                    r.leave();
                    Ok(())
                })?;
                array(r, 20, skip_decorated_signature)?;
                r.leave();
                (parts, Span::default(), signed)
            }
            ENVELOPE_TX => {
                let (parts, signed) = v1_envelope(r)?;
                (parts, Span::default(), signed)
            }
            ENVELOPE_TX_FEE_BUMP => {
                r.enter()?; // FeeBumpTransactionEnvelope
                let mut parts = TxParts::default();
                let mut fee_source = Span::default();
                let signed = span(r, |r| {
                    r.enter()?;
                    fee_source = span(r, skip_muxed_account)?;
                    r.i64()?;
                    r.enter()?; // innerTx
                    if skip_envelope_type(r)? != ENVELOPE_TX {
                        return Err(Error::Invalid);
                    }
                    parts = v1_envelope(r)?.0;
                    r.leave();
                    skip_fee_bump_transaction_ext(r)?;
                    r.leave();
                    Ok(())
                })?;
                array(r, 20, skip_decorated_signature)?;
                r.leave();
                (parts, fee_source, signed)
            }
            _ => return Err(Error::Invalid),
        };
        r.leave();
        let canonical = !r.noncanonical;
        r.noncanonical |= earlier;
        self.envelopes.push(EnvelopeRef {
            span: Span {
                start,
                end: r.pos() as u32,
                depth,
            },
            kind,
            operations: parts.count,
            signed,
            canonical,
            source: parts.source,
            fee_source,
            seq_num: parts.seq_num,
            memo: parts.memo,
            operations_span: parts.operations,
            soroban: parts.soroban,
        });
        Ok(())
    }

    /// `TransactionResultMeta` (or `…V1` for LCM V2).
    fn result_meta(&mut self, r: &mut Reader<'_>, xdr: &[u8], v1: bool) -> Result<(), Error> {
        r.enter()?;
        if v1 {
            skip_extension_point(r)?;
        }
        let result = span(r, skip_transaction_result_pair)?;
        let fee_processing = span(r, skip_ledger_entry_changes)?;
        let meta_version = peek_i32(r, xdr);
        let ops_start = self.op_events.len() as u32;
        let mut tx_events = 0..0;
        let meta = if meta_version == 4 {
            span(r, |r| {
                tx_events = self.meta_v4(r)?;
                Ok(())
            })?
        } else {
            span(r, skip_transaction_meta)?
        };
        let post_fee_processing = if v1 {
            Some(span(r, skip_ledger_entry_changes)?)
        } else {
            None
        };
        r.leave();
        let at = result.start as usize;
        self.txs.push(TxRef {
            hash: hash_at(xdr, at),
            fee_charged: u64_at(xdr, at + 32) as i64,
            result_code: u32_at(xdr, at + 40) as i32,
            result,
            fee_processing,
            meta,
            meta_version,
            post_fee_processing,
            tx_events,
            ops: ops_start..self.op_events.len() as u32,
        });
        Ok(())
    }

    /// `TransactionMeta` V4, recording operation and transaction events;
    /// returns the range of the transaction-level ones.
    fn meta_v4(&mut self, r: &mut Reader<'_>) -> Result<Range<u32>, Error> {
        r.enter()?;
        if r.i32()? != 4 {
            return Err(Error::Invalid);
        }
        r.enter()?; // TransactionMetaV4
        skip_extension_point(r)?;
        skip_ledger_entry_changes(r)?; // txChangesBefore
        array(r, u64::from(u32::MAX), |r| {
            r.enter()?; // OperationMetaV2
            skip_extension_point(r)?;
            skip_ledger_entry_changes(r)?;
            let first = self.events.len() as u32;
            array(r, u64::from(u32::MAX), |r| {
                let span = span(r, skip_contract_event)?;
                self.events.push(EventRef { span, stage: -1 });
                Ok(())
            })?;
            self.op_events.push(first..self.events.len() as u32);
            r.leave();
            Ok(())
        })?;
        skip_ledger_entry_changes(r)?; // txChangesAfter
        r.enter()?;
        if r.present()? {
            skip_soroban_transaction_meta_v2(r)?;
        }
        r.leave();
        let tx_first = self.events.len() as u32;
        array(r, u64::from(u32::MAX), |r| {
            r.enter()?; // TransactionEvent
            let stage = skip_transaction_event_stage(r)?;
            let span = span(r, skip_contract_event)?;
            self.events.push(EventRef { span, stage });
            r.leave();
            Ok(())
        })?;
        let tx_events = tx_first..self.events.len() as u32;
        array(r, u64::from(u32::MAX), skip_diagnostic_event)?;
        r.leave();
        r.leave();
        Ok(tx_events)
    }
}

/// `TransactionV1Envelope { tx: Transaction, signatures<20> }`: the parts
/// of its `Transaction` and the `Transaction`'s span.
fn v1_envelope(r: &mut Reader<'_>) -> Result<(TxParts, Span), Error> {
    r.enter()?;
    let mut parts = TxParts::default();
    let signed = span(r, |r| {
        r.enter()?;
        parts.source = span(r, skip_muxed_account)?;
        r.u32()?; // fee
        parts.seq_num = seq_num(r)?;
        skip_preconditions(r)?;
        parts.memo = span(r, skip_memo)?;
        parts.operations = span(r, |r| {
            parts.count = array(r, 100, skip_operation)?;
            Ok(())
        })?;
        // ext: v0 void, v1 SorobanTransactionData
        r.enter()?;
        match r.i32()? {
            0 => {}
            1 => {
                skip_soroban_transaction_data(r)?;
                parts.soroban = true;
            }
            _ => return Err(Error::Invalid),
        }
        r.leave();
        r.leave();
        Ok(())
    })?;
    array(r, 20, skip_decorated_signature)?;
    r.leave();
    Ok((parts, signed))
}

/// A `SequenceNumber` (a newtype of `int64`: one level more).
fn seq_num(r: &mut Reader<'_>) -> Result<i64, Error> {
    r.enter()?;
    let value = r.i64()?;
    r.leave();
    Ok(value)
}
