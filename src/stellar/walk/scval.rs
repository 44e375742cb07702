//! Borrowed views of the Soroban values token-transfer rules read: a
//! `ContractEvent` (contract id, type, topics, data) and the few `ScVal`
//! arms a token event uses. Each view is the value's own bytes, already
//! validated by the walk that found them; reading one allocates nothing,
//! and a malformed view answers `None` rather than panicking.

use stellar_xdr::{Limits, ReadXdr, ScAddress};

use super::reader::Reader;
use super::skip::{skip_sc_address, skip_sc_val};
use crate::stellar::address::{memoised, Memo, Strkey};

/// `SCValType` arms the views read.
mod arm {
    pub(crate) const VOID: u32 = 1;
    pub const U64: u32 = 5;
    pub const I128: u32 = 10;
    pub(crate) const BYTES: u32 = 13;
    pub(crate) const STRING: u32 = 14;
    pub(crate) const SYMBOL: u32 = 15;
    pub(crate) const MAP: u32 = 17;
    pub(crate) const ADDRESS: u32 = 18;
}

/// Depth for re-walking bytes that were validated with the real limit.
const VALIDATED: u32 = u32::MAX;

fn word(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn dword(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at + 8)?;
    let mut out = [0u8; 8];
    out.copy_from_slice(b);
    Some(u64::from_be_bytes(out))
}

/// Splits the `ScVal` at the start of `bytes` from what follows it.
fn split_sc_val(bytes: &[u8]) -> Option<(ScValRef<'_>, &[u8])> {
    let mut r = Reader::new(bytes, VALIDATED);
    skip_sc_val(&mut r).ok()?;
    let (value, rest) = bytes.split_at(r.pos());
    Some((ScValRef { bytes: value }, rest))
}

/// One `ScVal`, in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScValRef<'a> {
    bytes: &'a [u8],
}

impl<'a> ScValRef<'a> {
    fn arm(&self) -> Option<u32> {
        word(self.bytes, 0)
    }

    /// The body of a `string<>`/`opaque<>` arm.
    fn var_bytes(&self, wanted: u32) -> Option<&'a [u8]> {
        if self.arm()? != wanted {
            return None;
        }
        let len = word(self.bytes, 4)? as usize;
        self.bytes.get(8..8 + len)
    }

    /// `SCV_SYMBOL`'s bytes.
    pub fn symbol(&self) -> Option<&'a [u8]> {
        self.var_bytes(arm::SYMBOL)
    }

    /// `SCV_STRING`'s bytes.
    pub fn string(&self) -> Option<&'a [u8]> {
        self.var_bytes(arm::STRING)
    }

    /// `SCV_BYTES`' bytes.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        self.var_bytes(arm::BYTES)
    }

    /// `SCV_U64`.
    pub fn u64(&self) -> Option<u64> {
        (self.arm()? == arm::U64).then(|| dword(self.bytes, 4))?
    }

    /// `SCV_I128` as one integer.
    pub fn i128(&self) -> Option<i128> {
        if self.arm()? != arm::I128 {
            return None;
        }
        let hi = dword(self.bytes, 4)? as i64;
        let lo = dword(self.bytes, 12)?;
        Some((i128::from(hi) << 64) | i128::from(lo))
    }

    /// `SCV_VOID`.
    pub(crate) fn is_void(&self) -> bool {
        self.arm() == Some(arm::VOID)
    }

    /// `SCV_ADDRESS`.
    pub fn address(&self) -> Option<AddressRef<'a>> {
        if self.arm()? != arm::ADDRESS {
            return None;
        }
        Some(AddressRef {
            bytes: self.bytes.get(4..)?,
        })
    }

    /// The entries of an `SCV_MAP` that holds a map (not `None`).
    pub fn map(&self) -> Option<MapIter<'a>> {
        if self.arm()? != arm::MAP || word(self.bytes, 4)? != 1 {
            return None;
        }
        Some(MapIter {
            left: word(self.bytes, 8)?,
            rest: self.bytes.get(12..)?,
        })
    }
}

/// The (key, value) entries of a map, in order.
#[derive(Debug, Clone)]
pub struct MapIter<'a> {
    left: u32,
    rest: &'a [u8],
}

impl<'a> Iterator for MapIter<'a> {
    type Item = (ScValRef<'a>, ScValRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let (key, rest) = split_sc_val(self.rest)?;
        let (value, rest) = split_sc_val(rest)?;
        self.left -= 1;
        self.rest = rest;
        Some((key, value))
    }
}

/// An `ScAddress`, in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRef<'a> {
    bytes: &'a [u8],
}

impl AddressRef<'_> {
    /// The address as a strkey (G, M, C, B, L), rendered exactly as
    /// `stellar-xdr`'s `ScAddress` `Display` does.
    pub fn strkey(&self) -> Option<Strkey> {
        thread_local! {
            static STRKEYS: Memo<Vec<u8>, Option<Strkey>> = Memo::default();
        }
        let mut r = Reader::new(self.bytes, VALIDATED);
        skip_sc_address(&mut r).ok()?;
        let bytes = &self.bytes[..r.pos()];
        memoised(&STRKEYS, bytes, || {
            let address = ScAddress::from_xdr(bytes, Limits::none()).ok()?;
            Some(address.to_string().into())
        })
    }
}

/// Most topics a view keeps; token events have at most four, and only the
/// count matters beyond that.
const TOPICS: usize = 6;

/// A `ContractEvent`, in place.
#[derive(Debug, Clone)]
pub struct ContractEventRef<'a> {
    contract_id: Option<[u8; 32]>,
    event_type: i32,
    topic_count: usize,
    topics: [Option<ScValRef<'a>>; TOPICS],
    data: ScValRef<'a>,
}

impl<'a> ContractEventRef<'a> {
    /// Reads the event whose validated XDR is `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        // ext (ExtensionPoint: only arm 0, void)
        if word(bytes, 0)? != 0 {
            return None;
        }
        let mut at = 4;
        let contract_id = match word(bytes, at)? {
            0 => {
                at += 4;
                None
            }
            _ => {
                let mut id = [0u8; 32];
                id.copy_from_slice(bytes.get(at + 4..at + 36)?);
                at += 36;
                Some(id)
            }
        };
        let event_type = word(bytes, at)? as i32;
        // body: ContractEventBody v0 { topics<>, data }
        if word(bytes, at + 4)? != 0 {
            return None;
        }
        let topic_count = word(bytes, at + 8)? as usize;
        let mut rest = bytes.get(at + 12..)?;
        let mut topics = [None; TOPICS];
        for slot in 0..topic_count {
            let (topic, after) = split_sc_val(rest)?;
            if let Some(kept) = topics.get_mut(slot) {
                *kept = Some(topic);
            }
            rest = after;
        }
        let (data, _) = split_sc_val(rest)?;
        Some(ContractEventRef {
            contract_id,
            event_type,
            topic_count,
            topics,
            data,
        })
    }

    /// `contractID`.
    pub fn contract_id(&self) -> Option<&[u8; 32]> {
        self.contract_id.as_ref()
    }

    /// `type == CONTRACT`.
    pub(crate) fn is_contract(&self) -> bool {
        self.event_type == 1
    }

    /// How many topics the event has.
    pub(crate) fn topic_count(&self) -> usize {
        self.topic_count
    }

    /// Topic `i` (the first few only).
    pub fn topic(&self, i: usize) -> Option<ScValRef<'a>> {
        *self.topics.get(i)?
    }

    /// `data`.
    pub fn data(&self) -> ScValRef<'a> {
        self.data
    }
}
