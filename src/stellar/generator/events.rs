//! CAP-67 events as core emits them (unified mode), and the matching
//! expected token-transfer events the round-trip tests compare against.

use stellar_xdr::{
    ContractEvent, ContractEventBody, ContractEventType, ContractEventV0, ContractId,
    ExtensionPoint, Hash, ScAddress, ScBytes, ScMap, ScMapEntry, ScString, ScSymbol, ScVal,
};

use super::state::{i128_val, AssetRef, World};
use crate::stellar::address;

/// Muxed destination information carried by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Muxed {
    /// A u64 id (muxed account or MEMO_ID).
    Id(u64),
    /// MEMO_TEXT.
    Text(String),
    /// MEMO_HASH / MEMO_RETURN.
    Hash([u8; 32]),
}

/// One token-transfer event the generator put into a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedEvent {
    /// Ledger sequence.
    pub ledger: u32,
    /// Hex tx hash (the outer hash for fee bumps).
    pub tx_hash: String,
    /// 1-based apply-order index.
    pub transaction_index: u32,
    /// 1-based operation index; `None` for fees.
    pub operation_index: Option<u32>,
    /// fee, transfer, mint, burn or clawback.
    pub event_type: &'static str,
    /// Sender strkey.
    pub from: Option<String>,
    /// Receiver strkey.
    pub to: Option<String>,
    /// SEP-11 asset; `None` for the custom token.
    pub asset: Option<String>,
    /// Raw amount (negative for fee refunds).
    pub amount: i128,
    /// Emitting contract (C...).
    pub contract_address: String,
    /// Muxed destination info.
    pub to_muxed: Option<Muxed>,
}

/// An event as emitted (XDR) and as expected (TTP), before the transaction
/// context (hash, indexes) is known.
pub(crate) struct Emitted {
    pub event: ContractEvent,
    pub expected: ExpectedEvent,
}

fn symbol(s: &str) -> ScVal {
    ScVal::Symbol(ScSymbol(s.try_into().unwrap_or_default()))
}

fn string(s: &str) -> ScVal {
    ScVal::String(ScString(s.try_into().unwrap_or_default()))
}

fn contract_event(contract: [u8; 32], topics: Vec<ScVal>, data: ScVal) -> ContractEvent {
    ContractEvent {
        ext: ExtensionPoint::V0,
        contract_id: Some(ContractId(Hash(contract))),
        type_: ContractEventType::Contract,
        body: ContractEventBody::V0(ContractEventV0 {
            topics: topics.try_into().unwrap_or_default(),
            data,
        }),
    }
}

/// Event data: a bare i128, or `{amount, to_muxed_id}` when there is muxed
/// info (CAP-67; map keys sorted as Soroban requires).
fn amount_data(amount: i128, muxed: &Option<Muxed>) -> ScVal {
    let Some(muxed) = muxed else {
        return i128_val(amount);
    };
    let id = match muxed {
        Muxed::Id(id) => ScVal::U64(*id),
        Muxed::Text(text) => string(text),
        Muxed::Hash(hash) => ScVal::Bytes(ScBytes(hash.to_vec().try_into().unwrap_or_default())),
    };
    let entries = vec![
        ScMapEntry {
            key: symbol("amount"),
            val: i128_val(amount),
        },
        ScMapEntry {
            key: symbol("to_muxed_id"),
            val: id,
        },
    ];
    ScVal::Map(Some(ScMap(entries.try_into().unwrap_or_default())))
}

fn strkey(a: &ScAddress) -> String {
    a.to_string()
}

/// A Stellar Asset Contract event with the SEP-41/CAP-67 topic shape of
/// `kind`: transfer [from, to, asset], mint [to, asset], burn/clawback
/// [from, asset].
pub fn sac_event(
    world: &World,
    kind: &'static str,
    from: Option<ScAddress>,
    to: Option<ScAddress>,
    asset: AssetRef,
    amount: i128,
    muxed: Option<Muxed>,
) -> Emitted {
    let asset_xdr = world.asset(asset);
    let sep11 = address::asset_string(&asset_xdr);
    let mut topics = vec![symbol(kind)];
    topics.extend(from.clone().map(ScVal::Address));
    topics.extend(to.clone().map(ScVal::Address));
    topics.push(string(&sep11));
    let contract = world.sac(asset);
    Emitted {
        event: contract_event(contract, topics, amount_data(amount, &muxed)),
        expected: ExpectedEvent {
            ledger: world.ledger,
            tx_hash: String::new(),
            transaction_index: 0,
            operation_index: None,
            event_type: kind,
            from: from.as_ref().map(strkey),
            to: to.as_ref().map(strkey),
            asset: Some(sep11),
            amount,
            contract_address: address::contract(&contract).to_string(),
            to_muxed: muxed,
        },
    }
}

/// The fee event (charge positive, refund negative) of the native SAC.
pub fn fee_event(world: &World, payer: usize, amount: i128) -> Emitted {
    let contract = world.sac(AssetRef::Native);
    let payer = world.address(payer);
    Emitted {
        event: contract_event(
            contract,
            vec![symbol("fee"), ScVal::Address(payer.clone())],
            i128_val(amount),
        ),
        expected: ExpectedEvent {
            ledger: world.ledger,
            tx_hash: String::new(),
            transaction_index: 0,
            operation_index: None,
            event_type: "fee",
            from: Some(strkey(&payer)),
            to: None,
            asset: Some("native".into()),
            amount,
            contract_address: address::contract(&contract).to_string(),
            to_muxed: None,
        },
    }
}

/// A custom (non-SAC) token event: no asset topic, so no asset.
pub(crate) fn custom_event(
    world: &World,
    kind: &'static str,
    from: Option<usize>,
    to: Option<usize>,
    amount: i128,
) -> Emitted {
    let from = from.map(|a| world.address(a));
    let to = to.map(|a| world.address(a));
    let mut topics = vec![symbol(kind)];
    topics.extend(from.clone().map(ScVal::Address));
    topics.extend(to.clone().map(ScVal::Address));
    Emitted {
        event: contract_event(world.token_contract, topics, i128_val(amount)),
        expected: ExpectedEvent {
            ledger: world.ledger,
            tx_hash: String::new(),
            transaction_index: 0,
            operation_index: None,
            event_type: kind,
            from: from.as_ref().map(strkey),
            to: to.as_ref().map(strkey),
            asset: None,
            amount,
            contract_address: address::contract(&world.token_contract).to_string(),
            to_muxed: None,
        },
    }
}

/// The classic mint/burn/transfer rule: moves from an issuer are mints,
/// moves to an issuer are burns, issuer to issuer and everything native are
/// transfers. Only accounts (not pools or balances) can be issuers.
pub(crate) fn classic_move(
    world: &World,
    from: ScAddress,
    to: ScAddress,
    asset: AssetRef,
    amount: i64,
    muxed: Option<Muxed>,
) -> Emitted {
    let is_issuer = |a: &ScAddress| match (a, asset) {
        (ScAddress::Account(id), AssetRef::Credit(i)) => {
            *id == world.account_id(world.assets[i].issuer)
        }
        _ => false,
    };
    let amount = i128::from(amount);
    match (is_issuer(&from), is_issuer(&to)) {
        (true, false) => sac_event(world, "mint", None, Some(to), asset, amount, muxed),
        (false, true) => sac_event(world, "burn", Some(from), None, asset, amount, None),
        _ => sac_event(
            world,
            "transfer",
            Some(from),
            Some(to),
            asset,
            amount,
            muxed,
        ),
    }
}
