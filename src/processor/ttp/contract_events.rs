//! SEP-41 token events from contracts (stellar/go `parseEvent`): transfer,
//! mint, burn and clawback in the pre-CAP-67 (TxMeta V3) and CAP-67 (V4)
//! shapes, with the Stellar Asset Contract check that fills `asset` only
//! for a real SAC. Events that do not fit are skipped, as in the reference.

use stellar_xdr::{ContractEvent, ContractEventBody, ContractEventType, ScAddress, ScVal};

use super::event::{EventKind, Movement, MuxedInfo};
use crate::stellar::address;

/// Which event shapes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// TxMeta V3: SAC events before CAP-67.
    V3,
    /// TxMeta V4: CAP-67 unified events.
    V4,
}

/// A signed 128-bit integer `ScVal`.
pub fn i128_of(value: &ScVal) -> Option<i128> {
    match value {
        ScVal::I128(parts) => Some((i128::from(parts.hi) << 64) | i128::from(parts.lo)),
        _ => None,
    }
}

fn symbol(value: &ScVal) -> Option<String> {
    match value {
        ScVal::Symbol(s) => Some(s.0.to_utf8_string_lossy()),
        _ => None,
    }
}

fn address(value: &ScVal) -> Option<&ScAddress> {
    match value {
        ScVal::Address(a) => Some(a),
        _ => None,
    }
}

fn string(value: &ScVal) -> Option<String> {
    match value {
        ScVal::String(s) => Some(s.0.to_utf8_string_lossy()),
        _ => None,
    }
}

/// The amount and muxed info from event data: an i128, or (V4) a map with
/// Symbol keys `amount` (required) and optional `to_muxed_id`.
fn amount_and_muxed(data: &ScVal, shape: Shape) -> Option<(i128, Option<MuxedInfo>)> {
    if let Some(amount) = i128_of(data) {
        return Some((amount, None));
    }
    let (Shape::V4, ScVal::Map(Some(map))) = (shape, data) else {
        return None;
    };
    let mut amount = None;
    let mut muxed = None;
    for entry in map.0.iter() {
        match symbol(&entry.key)?.as_str() {
            "amount" => amount = Some(i128_of(&entry.val)?),
            "to_muxed_id" => {
                muxed = match &entry.val {
                    ScVal::U64(id) => Some(MuxedInfo::Id(*id)),
                    ScVal::Bytes(bytes) => Some(MuxedInfo::Hash(bytes.0.to_vec())),
                    ScVal::String(text) => Some(MuxedInfo::Text(text.0.to_utf8_string_lossy())),
                    ScVal::Void => None,
                    _ => return None,
                }
            }
            _ => {}
        }
    }
    Some((amount?, muxed))
}

/// Parses one contract event into a movement, or `None` when it is not a
/// SEP-41 token event of a known shape.
pub fn parse(event: &ContractEvent, shape: Shape, network_id: &[u8; 32]) -> Option<Movement> {
    if event.type_ != ContractEventType::Contract {
        return None;
    }
    let contract = event.contract_id.as_ref()?.0 .0;
    let ContractEventBody::V0(body) = &event.body;
    let topics = &body.topics;
    if topics.len() < 2 {
        return None;
    }
    let name = symbol(&topics[0])?;
    let kind = EventKind::parse(&name).filter(|k| *k != EventKind::Fee)?;
    let strkey = |i: usize| topics.get(i).and_then(address).map(|a| a.to_string());
    let (from, to) = match (shape, kind) {
        (_, EventKind::Transfer) if topics.len() >= 3 => (Some(strkey(1)?), Some(strkey(2)?)),
        (Shape::V3, EventKind::Mint) if topics.len() >= 3 => {
            strkey(1)?; // the admin must be an address
            (None, Some(strkey(2)?))
        }
        (Shape::V3, EventKind::Burn) => (Some(strkey(1)?), None),
        (Shape::V3, EventKind::Clawback) if topics.len() >= 3 => {
            strkey(1)?;
            (Some(strkey(2)?), None)
        }
        (Shape::V4, EventKind::Mint) => {
            // A 3rd topic must be the asset string, not an old admin topic.
            if topics.len() >= 3 && string(&topics[2]).is_none() {
                return None;
            }
            (None, Some(strkey(1)?))
        }
        (Shape::V4, EventKind::Burn) => (Some(strkey(1)?), None),
        (Shape::V4, EventKind::Clawback) => {
            if topics.len() >= 3 && string(&topics[2]).is_none() {
                return None;
            }
            (Some(strkey(1)?), None)
        }
        _ => return None,
    };
    let (amount, muxed) = amount_and_muxed(&body.data, shape)?;
    let sac_topics = match (shape, kind) {
        (Shape::V3, EventKind::Burn) => 3,
        (Shape::V3, _) => 4,
        (Shape::V4, EventKind::Transfer) => 4,
        (Shape::V4, _) => 3,
    };
    let asset = if topics.len() == sac_topics {
        string(&topics[sac_topics - 1])
            .filter(|s| !s.is_empty())
            .and_then(|s| address::parse_asset(&s))
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
            .map(|i| i.to_string())
        {
            if movement.from.as_deref() == Some(issuer.as_str()) {
                movement.kind = EventKind::Mint;
                movement.from = None;
                movement.to_muxed = None;
            } else if movement.to.as_deref() == Some(issuer.as_str()) {
                movement.kind = EventKind::Burn;
                movement.to = None;
                movement.to_muxed = None;
            }
        }
    }
    Some(movement)
}
