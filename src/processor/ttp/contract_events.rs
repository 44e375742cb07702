//! SEP-41 token events from contracts (stellar/go `parseEvent`): transfer,
//! mint, burn and clawback in the pre-CAP-67 (TxMeta V3) and CAP-67 (V4)
//! shapes, with the Stellar Asset Contract check that fills `asset` only
//! for a real SAC. Events that do not fit are skipped, as in the reference.
//!
//! The rules are written once over [`Event`] and [`Value`], which both
//! the decoded `stellar-xdr` types (the reference path) and the zero-copy
//! views of `stellar::walk` (the fast path) implement.

use stellar_xdr::{ContractEvent, ContractEventBody, ContractEventType, ScMapEntry, ScVal};

use super::event::{EventKind, Movement, MuxedInfo};
use crate::stellar::address::{self, Strkey};
use crate::stellar::walk::{ContractEventRef, ScValRef};

/// Which event shapes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// TxMeta V3: SAC events before CAP-67.
    V3,
    /// TxMeta V4: CAP-67 unified events.
    V4,
}

/// The `ScVal` arms token events use.
pub trait Value<'a>: Copy {
    /// Map entries, in order.
    type Entries: Iterator<Item = (Self, Self)>;
    /// `Symbol` bytes.
    fn symbol(self) -> Option<&'a [u8]>;
    /// `String` bytes.
    fn string(self) -> Option<&'a [u8]>;
    /// `Bytes`.
    fn bytes(self) -> Option<&'a [u8]>;
    /// `U64`.
    fn u64(self) -> Option<u64>;
    /// `I128` as one integer.
    fn i128(self) -> Option<i128>;
    /// `Void`.
    fn is_void(self) -> bool;
    /// `Address` as a strkey.
    fn address(self) -> Option<Strkey>;
    /// The entries of a `Map` that holds one.
    fn map(self) -> Option<Self::Entries>;
}

/// A contract event as the rules read it.
pub trait Event<'a> {
    /// Its values.
    type Value: Value<'a>;
    /// `type == CONTRACT`.
    fn is_contract(&self) -> bool;
    /// The emitting contract.
    fn contract_id(&self) -> Option<[u8; 32]>;
    /// Number of topics.
    fn topic_count(&self) -> usize;
    /// Topic `i`.
    fn topic(&self, i: usize) -> Option<Self::Value>;
    /// The data.
    fn data(&self) -> Self::Value;
}

/// The map entries of a decoded `ScVal` as (key, value) pairs.
type DecodedEntries<'a> =
    std::iter::Map<std::slice::Iter<'a, ScMapEntry>, fn(&'a ScMapEntry) -> (&'a ScVal, &'a ScVal)>;

fn entry(e: &ScMapEntry) -> (&ScVal, &ScVal) {
    (&e.key, &e.val)
}

impl<'a> Value<'a> for &'a ScVal {
    type Entries = DecodedEntries<'a>;
    fn symbol(self) -> Option<&'a [u8]> {
        match self {
            ScVal::Symbol(s) => Some(s.0.as_slice()),
            _ => None,
        }
    }
    fn string(self) -> Option<&'a [u8]> {
        match self {
            ScVal::String(s) => Some(s.0.as_slice()),
            _ => None,
        }
    }
    fn bytes(self) -> Option<&'a [u8]> {
        match self {
            ScVal::Bytes(b) => Some(b.0.as_slice()),
            _ => None,
        }
    }
    fn u64(self) -> Option<u64> {
        match self {
            ScVal::U64(v) => Some(*v),
            _ => None,
        }
    }
    fn i128(self) -> Option<i128> {
        match self {
            ScVal::I128(parts) => Some((i128::from(parts.hi) << 64) | i128::from(parts.lo)),
            _ => None,
        }
    }
    fn is_void(self) -> bool {
        matches!(self, ScVal::Void)
    }
    fn address(self) -> Option<Strkey> {
        match self {
            ScVal::Address(a) => Some(a.to_string().into()),
            _ => None,
        }
    }
    fn map(self) -> Option<Self::Entries> {
        match self {
            ScVal::Map(Some(map)) => Some(map.0.iter().map(entry as fn(&'a ScMapEntry) -> _)),
            _ => None,
        }
    }
}

impl<'a> Event<'a> for &'a ContractEvent {
    type Value = &'a ScVal;
    fn is_contract(&self) -> bool {
        self.type_ == ContractEventType::Contract
    }
    fn contract_id(&self) -> Option<[u8; 32]> {
        self.contract_id.as_ref().map(|c| c.0 .0)
    }
    fn topic_count(&self) -> usize {
        let ContractEventBody::V0(body) = &self.body;
        body.topics.len()
    }
    fn topic(&self, i: usize) -> Option<&'a ScVal> {
        let ContractEventBody::V0(body) = &self.body;
        body.topics.get(i)
    }
    fn data(&self) -> &'a ScVal {
        let ContractEventBody::V0(body) = &self.body;
        &body.data
    }
}

impl<'a> Value<'a> for ScValRef<'a> {
    type Entries = crate::stellar::walk::MapIter<'a>;
    fn symbol(self) -> Option<&'a [u8]> {
        ScValRef::symbol(&self)
    }
    fn string(self) -> Option<&'a [u8]> {
        ScValRef::string(&self)
    }
    fn bytes(self) -> Option<&'a [u8]> {
        ScValRef::bytes(&self)
    }
    fn u64(self) -> Option<u64> {
        ScValRef::u64(&self)
    }
    fn i128(self) -> Option<i128> {
        ScValRef::i128(&self)
    }
    fn is_void(self) -> bool {
        ScValRef::is_void(&self)
    }
    fn address(self) -> Option<Strkey> {
        ScValRef::address(&self)?.strkey()
    }
    fn map(self) -> Option<Self::Entries> {
        ScValRef::map(&self)
    }
}

impl<'a> Event<'a> for ContractEventRef<'a> {
    type Value = ScValRef<'a>;
    fn is_contract(&self) -> bool {
        ContractEventRef::is_contract(self)
    }
    fn contract_id(&self) -> Option<[u8; 32]> {
        ContractEventRef::contract_id(self).copied()
    }
    fn topic_count(&self) -> usize {
        ContractEventRef::topic_count(self)
    }
    fn topic(&self, i: usize) -> Option<ScValRef<'a>> {
        ContractEventRef::topic(self, i)
    }
    fn data(&self) -> ScValRef<'a> {
        ContractEventRef::data(self)
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The amount and muxed info from event data: an i128, or (V4) a map with
/// Symbol keys `amount` (required) and optional `to_muxed_id`.
fn amount_and_muxed<'a, V: Value<'a>>(data: V, shape: Shape) -> Option<(i128, Option<MuxedInfo>)> {
    if let Some(amount) = data.i128() {
        return Some((amount, None));
    }
    if shape != Shape::V4 {
        return None;
    }
    let mut amount = None;
    let mut muxed = None;
    for (key, val) in data.map()? {
        match key.symbol()? {
            b"amount" => amount = Some(val.i128()?),
            b"to_muxed_id" => {
                muxed = if let Some(id) = val.u64() {
                    Some(MuxedInfo::Id(id))
                } else if let Some(bytes) = val.bytes() {
                    Some(MuxedInfo::Hash(bytes.to_vec()))
                } else if let Some(text) = val.string() {
                    Some(MuxedInfo::Text(lossy(text)))
                } else if val.is_void() {
                    None
                } else {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some((amount?, muxed))
}

/// Parses one contract event into a movement, or `None` when it is not a
/// SEP-41 token event of a known shape.
pub fn parse<'a, E: Event<'a>>(event: E, shape: Shape, network_id: &[u8; 32]) -> Option<Movement> {
    if !event.is_contract() {
        return None;
    }
    let contract = event.contract_id()?;
    let topics = event.topic_count();
    if topics < 2 {
        return None;
    }
    let name = event.topic(0)?.symbol()?;
    let kind = std::str::from_utf8(name)
        .ok()
        .and_then(EventKind::parse)
        .filter(|k| *k != EventKind::Fee)?;
    let strkey = |i: usize| event.topic(i).and_then(Value::address);
    let is_string = |i: usize| event.topic(i).and_then(Value::string).is_some();
    // An address where CAP-67 puts the asset string: the pre-CAP-67
    // [name, admin, holder] shape, which never names its asset.
    let old_style = matches!(kind, EventKind::Mint | EventKind::Clawback)
        && topics >= 3
        && event.topic(2).and_then(Value::address).is_some();
    let (from, to) = match (shape, kind) {
        (_, EventKind::Transfer) if topics >= 3 => (Some(strkey(1)?), Some(strkey(2)?)),
        (Shape::V3, EventKind::Mint) if topics >= 3 => {
            strkey(1)?; // the admin must be an address
            (None, Some(strkey(2)?))
        }
        (Shape::V3, EventKind::Burn) => (Some(strkey(1)?), None),
        (Shape::V3, EventKind::Clawback) if topics >= 3 => {
            strkey(1)?;
            (Some(strkey(2)?), None)
        }
        // Contracts built before CAP-67 still emit ["mint", admin, to, ..]:
        // the recipient is the third topic (stellar/go credits the admin).
        (Shape::V4, EventKind::Mint) if old_style => {
            strkey(1)?;
            (None, Some(strkey(2)?))
        }
        (Shape::V4, EventKind::Mint) => {
            // Otherwise a 3rd topic must be the asset string.
            if topics >= 3 && !is_string(2) {
                return None;
            }
            (None, Some(strkey(1)?))
        }
        (Shape::V4, EventKind::Burn) => (Some(strkey(1)?), None),
        // And ["clawback", admin, from, ..]: the holder is the third topic.
        (Shape::V4, EventKind::Clawback) if old_style => {
            strkey(1)?;
            (Some(strkey(2)?), None)
        }
        (Shape::V4, EventKind::Clawback) => {
            if topics >= 3 && !is_string(2) {
                return None;
            }
            (Some(strkey(1)?), None)
        }
        _ => return None,
    };
    let (amount, muxed) = amount_and_muxed(event.data(), shape)?;
    let sac_topics = match (shape, kind) {
        (Shape::V3, EventKind::Burn) => 3,
        (Shape::V3, _) => 4,
        (Shape::V4, EventKind::Transfer) => 4,
        (Shape::V4, _) => 3,
    };
    let asset = if topics == sac_topics && !(shape == Shape::V4 && old_style) {
        event
            .topic(sac_topics - 1)
            .and_then(Value::string)
            .filter(|s| !s.is_empty())
            .and_then(|s| address::parse_asset(&String::from_utf8_lossy(s)))
            .filter(|asset| address::sac_contract_id(asset, network_id) == contract)
    } else {
        None
    };
    let mut movement = Movement {
        kind,
        from,
        to,
        asset,
        amount,
        contract_address: address::contract(&contract),
        to_muxed: muxed,
    };
    // Before CAP-67 a SAC emitted `transfer` for issuer moves.
    if shape == Shape::V3 && kind == EventKind::Transfer {
        if let Some(issuer) = movement
            .asset
            .as_ref()
            .and_then(address::asset_issuer)
            .map(address::account)
        {
            let from_issuer = movement.from.as_deref() == Some(&*issuer);
            let to_issuer = movement.to.as_deref() == Some(&*issuer);
            // Issuer to issuer stays a transfer, as for classic payments.
            match (from_issuer, to_issuer) {
                (true, false) => {
                    movement.kind = EventKind::Mint;
                    movement.from = None;
                    movement.to_muxed = None;
                }
                (false, true) => {
                    movement.kind = EventKind::Burn;
                    movement.to = None;
                    movement.to_muxed = None;
                }
                _ => {}
            }
        }
    }
    Some(movement)
}
