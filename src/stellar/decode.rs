//! Decoding data-lake objects: zstd decompression with a size cap, then the
//! `LedgerCloseMetaBatch` XDR with a depth limit. Each ledger keeps the exact
//! bytes it was decoded from (a zero-copy slice), so serving `ledger_xdr`
//! never re-encodes.

use std::io::{Cursor, Read};

use bytes::Bytes;
use stellar_xdr::{LedgerCloseMeta, Limited, Limits, ReadXdr};

use super::ledger::LedgerView;

/// Largest decompressed object accepted; a real pubnet ledger is ~1.5 MB and
/// this leaves room for large batches while stopping a zstd bomb.
pub const MAX_DECOMPRESSED: usize = 1 << 30;

/// Why an object or ledger could not be decoded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    /// Not a valid zstd stream.
    #[error("corrupt zstd data: {0}")]
    Zstd(String),
    /// Decompresses to more than `MAX_DECOMPRESSED`.
    #[error("decompresses to more than {0} bytes")]
    TooLarge(usize),
    /// Invalid or truncated XDR.
    #[error("invalid XDR{}: {error}", ledger.map(|l| format!(" in ledger {l}")).unwrap_or_default())]
    Xdr {
        /// The ledger being decoded, when known.
        ledger: Option<u32>,
        /// What stellar-xdr reported.
        error: String,
    },
    /// A header whose stored hash is not the hash of the header.
    #[error("{0}")]
    Header(String),
    /// The batch's own sequence numbers disagree with its content.
    #[error("batch says ledgers {start}-{end} but {detail}")]
    Inconsistent {
        /// Batch start.
        start: u32,
        /// Batch end.
        end: u32,
        /// What disagrees.
        detail: String,
    },
}

/// One decoded ledger and the bytes it came from.
#[derive(Debug, Clone)]
pub struct DecodedLedger {
    /// Ledger sequence from its header.
    pub sequence: u32,
    /// The raw `LedgerCloseMeta` XDR.
    pub xdr: Bytes,
    /// The decoded meta.
    pub meta: LedgerCloseMeta,
}

/// A decoded `LedgerCloseMetaBatch`.
#[derive(Debug, Clone)]
pub struct DecodedBatch {
    /// `startSequence`.
    pub start: u32,
    /// `endSequence`.
    pub end: u32,
    /// The ledgers, in order.
    pub ledgers: Vec<DecodedLedger>,
}

/// Decompresses a zstd object, refusing output beyond `limit` bytes.
pub fn decompress(compressed: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    decompress_into(compressed, limit, &mut out)?;
    Ok(out)
}

/// Decompresses a zstd object into `out` (cleared first, its capacity
/// reused), refusing output beyond `limit` bytes.
///
/// Objects that state their size (galexie's do) are refused from the frame
/// header when too large, before any work, and decompressed in one call
/// into a buffer of exactly that size with a per-thread context: about
/// twice the speed of streaming, which remains the fallback.
pub fn decompress_into(
    compressed: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    out.clear();
    if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(compressed) {
        if size > limit as u64 {
            return Err(DecodeError::TooLarge(limit));
        }
        out.reserve_exact(size as usize);
        let done = CONTEXT.with(|context| {
            let mut context = context.borrow_mut();
            if context.is_none() {
                *context = zstd::bulk::Decompressor::new().ok();
            }
            context
                .as_mut()
                .map(|c| c.decompress_to_buffer(compressed, out))
        });
        if let Some(Ok(_)) = done {
            return Ok(());
        }
        // Several frames, or a size that lied: stream it instead.
        out.clear();
    }
    let decoder = zstd::stream::read::Decoder::new(compressed)
        .map_err(|e| DecodeError::Zstd(e.to_string()))?;
    decoder
        .take(limit as u64 + 1)
        .read_to_end(out)
        .map_err(|e| DecodeError::Zstd(e.to_string()))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge(limit));
    }
    Ok(())
}

/// A batch must end with its last ledger.
fn nothing_left(len: usize, used: usize) -> Result<(), DecodeError> {
    if used == len {
        return Ok(());
    }
    Err(DecodeError::Xdr {
        ledger: None,
        error: format!("{} bytes left over after the last ledger", len - used),
    })
}

fn read_u32(raw: &[u8], at: usize) -> Option<u32> {
    raw.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decodes a `LedgerCloseMetaBatch`, checking that the ledgers are the
/// consecutive sequence its header announces.
pub fn decode_batch(raw: Bytes, depth: u32) -> Result<DecodedBatch, DecodeError> {
    let (start, end, count) = split_header(&raw)?;
    let mut ledgers = Vec::with_capacity(count);
    let mut offset = 12usize;
    for index in 0..count {
        let expected = start + index as u32;
        let rest = &raw[offset.min(raw.len())..];
        let mut reader = Limited::new(
            Cursor::new(rest),
            Limits {
                depth,
                len: rest.len(),
            },
        );
        let meta = LedgerCloseMeta::read_xdr(&mut reader).map_err(|e| DecodeError::Xdr {
            ledger: Some(expected),
            error: e.to_string(),
        })?;
        let used = reader.inner.position() as usize;
        let sequence = LedgerView::new(&meta).sequence();
        if sequence != expected {
            return Err(DecodeError::Inconsistent {
                start,
                end,
                detail: format!("ledger #{index} has sequence {sequence}, expected {expected}"),
            });
        }
        ledgers.push(DecodedLedger {
            sequence,
            xdr: raw.slice(offset..offset + used),
            meta,
        });
        offset += used;
    }
    nothing_left(raw.len(), offset)?;
    Ok(DecodedBatch {
        start,
        end,
        ledgers,
    })
}

/// Decodes one `LedgerCloseMeta`, requiring every byte to be used.
pub fn decode_ledger(xdr: &[u8], depth: u32) -> Result<LedgerCloseMeta, DecodeError> {
    LedgerCloseMeta::from_xdr(
        xdr,
        Limits {
            depth,
            len: xdr.len(),
        },
    )
    .map_err(|e| DecodeError::Xdr {
        ledger: None,
        error: e.to_string(),
    })
}

/// A decompressed `LedgerCloseMetaBatch` split into its ledgers' XDR
/// without decoding them.
#[derive(Debug, Clone)]
pub struct SplitBatch<'a> {
    /// `startSequence`.
    pub start: u32,
    /// `endSequence`.
    pub end: u32,
    /// Each ledger's `LedgerCloseMeta` bytes, in order.
    pub ledgers: Vec<&'a [u8]>,
}

/// Splits a `LedgerCloseMetaBatch` into its ledgers' bytes. Every ledger but
/// the last is walked (and so validated) to find where it ends; the last is
/// the rest of the input, which the consumer validates when it reads it
/// (a ledger must fill its bytes exactly).
pub fn split_batch(raw: &[u8], depth: u32) -> Result<SplitBatch<'_>, DecodeError> {
    let (start, end, count) = split_header(raw)?;
    let mut ledgers = Vec::with_capacity(count);
    let mut offset = 12usize;
    for index in 0..count {
        let rest = &raw[offset..];
        let used = if index + 1 == count {
            rest.len()
        } else {
            super::walk::ledger_len(rest, depth).map_err(|e| DecodeError::Xdr {
                ledger: Some(start + index as u32),
                error: e.to_string(),
            })?
        };
        ledgers.push(&rest[..used]);
        offset += used;
    }
    Ok(SplitBatch {
        start,
        end,
        ledgers,
    })
}

/// Walks a decompressed `LedgerCloseMetaBatch` in place, validating every
/// byte: each ledger's summary and its `LedgerCloseMeta` bytes (a slice of
/// `raw`, not a copy), checking that the ledgers are the consecutive run the
/// batch announces and that every header hash is right. This is the
/// source's path: nothing is decoded beyond what the summary reads.
pub fn summarize_batch(raw: Bytes, depth: u32) -> Result<SummarizedBatch, DecodeError> {
    let split = split_header(&raw)?;
    let (start, end, count) = split;
    let mut out = Vec::with_capacity(count);
    let mut index = super::walk::LedgerIndex::default();
    let mut offset = 12usize;
    for position in 0..count {
        let expected = start + position as u32;
        let rest = &raw[offset..];
        let mut reader = super::walk::Reader::new(rest, depth);
        index
            .read(&mut reader, rest)
            .map_err(|e| DecodeError::Xdr {
                ledger: Some(expected),
                error: e.to_string(),
            })?;
        let used = reader.pos();
        let summary =
            super::LedgerSummary::from_index(&index, rest).map_err(DecodeError::Header)?;
        if summary.sequence != expected {
            return Err(DecodeError::Inconsistent {
                start,
                end,
                detail: format!(
                    "ledger #{position} has sequence {}, expected {expected}",
                    summary.sequence
                ),
            });
        }
        out.push((summary, raw.slice(offset..offset + used)));
        offset += used;
    }
    nothing_left(raw.len(), offset)?;
    Ok(SummarizedBatch {
        start,
        end,
        ledgers: out,
    })
}

/// A batch walked by [`summarize_batch`].
#[derive(Debug, Clone)]
pub struct SummarizedBatch {
    /// `startSequence`.
    pub start: u32,
    /// `endSequence`.
    pub end: u32,
    /// Each ledger's summary and `LedgerCloseMeta` bytes, in order.
    pub ledgers: Vec<(super::LedgerSummary, Bytes)>,
}

/// `startSequence`, `endSequence` and the ledger count of a batch, checked
/// against each other.
fn split_header(raw: &[u8]) -> Result<(u32, u32, usize), DecodeError> {
    let truncated = |what: &str| DecodeError::Xdr {
        ledger: None,
        error: format!("truncated batch: no room for {what}"),
    };
    let start = read_u32(raw, 0).ok_or_else(|| truncated("startSequence"))?;
    let end = read_u32(raw, 4).ok_or_else(|| truncated("endSequence"))?;
    let count = read_u32(raw, 8).ok_or_else(|| truncated("the ledger count"))? as usize;
    if end < start || (end - start) as usize + 1 != count {
        return Err(DecodeError::Inconsistent {
            start,
            end,
            detail: format!("holds {count} ledgers"),
        });
    }
    Ok((start, end, count))
}
