//! A token-transfer event as stellar/go's TTP defines it, plus the fields
//! stellarflow adds for analytics (tx success, a stable event id).

use stellar_xdr::Asset;

use crate::stellar::address::{self, Strkey};

/// fee, transfer, mint, burn or clawback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A fee charge (positive) or refund (negative).
    Fee,
    /// Value moved between two holders.
    Transfer,
    /// Value created (from an issuer).
    Mint,
    /// Value destroyed (to an issuer).
    Burn,
    /// Value taken back by an issuer.
    Clawback,
}

impl EventKind {
    /// The name used in output and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Fee => "fee",
            EventKind::Transfer => "transfer",
            EventKind::Mint => "mint",
            EventKind::Burn => "burn",
            EventKind::Clawback => "clawback",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "fee" => Some(EventKind::Fee),
            "transfer" => Some(EventKind::Transfer),
            "mint" => Some(EventKind::Mint),
            "burn" => Some(EventKind::Burn),
            "clawback" => Some(EventKind::Clawback),
            _ => None,
        }
    }
}

/// Muxed destination information (TTP's `MuxedInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MuxedInfo {
    /// A u64 id: a muxed account or MEMO_ID.
    Id(u64),
    /// MEMO_TEXT, or a String `to_muxed_id`.
    Text(String),
    /// MEMO_HASH / MEMO_RETURN, or a Bytes `to_muxed_id` (as emitted).
    Hash(Vec<u8>),
}

impl MuxedInfo {
    /// `id`, `text` or `hash`.
    pub fn kind(&self) -> &'static str {
        match self {
            MuxedInfo::Id(_) => "id",
            MuxedInfo::Text(_) => "text",
            MuxedInfo::Hash(_) => "hash",
        }
    }

    /// The value as text: the decimal id, the text, or the hash in hex.
    pub fn value(&self) -> String {
        match self {
            MuxedInfo::Id(id) => id.to_string(),
            MuxedInfo::Text(text) => text.clone(),
            MuxedInfo::Hash(bytes) => hex::encode(bytes),
        }
    }
}

/// One token-transfer event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtpEvent {
    /// Ledger sequence.
    pub ledger_sequence: u32,
    /// Ledger close time, unix seconds.
    pub closed_at: u64,
    /// Transaction hash (outer for fee bumps).
    pub tx_hash: [u8; 32],
    /// 1-based position in apply order.
    pub transaction_index: u32,
    /// 1-based operation index; `None` for fees.
    pub operation_index: Option<u32>,
    /// What happened.
    pub kind: EventKind,
    /// Sender strkey.
    pub from: Option<Strkey>,
    /// Receiver strkey.
    pub to: Option<Strkey>,
    /// The asset; `None` for tokens that are not Stellar Asset Contracts.
    pub asset: Option<Asset>,
    /// Raw amount in base units (fee refunds negative).
    pub amount: i128,
    /// Emitting contract (the asset's SAC for classic events).
    pub contract_address: Strkey,
    /// Muxed destination info.
    pub to_muxed: Option<MuxedInfo>,
    /// Whether the transaction succeeded.
    pub successful: bool,
    /// Position among the events of the same (tx, operation): with the
    /// indexes it makes the stable event id.
    pub position: u32,
}

impl TtpEvent {
    /// `<ledger>-<tx index>-<op index or 0>-<position>`.
    pub fn event_id(&self) -> String {
        format!(
            "{}-{}-{}-{}",
            self.ledger_sequence,
            self.transaction_index,
            self.operation_index.unwrap_or(0),
            self.position
        )
    }

    /// SEP-11 asset string, if the asset is known.
    pub fn asset_string(&self) -> Option<String> {
        self.asset.as_ref().map(address::asset_string)
    }
}

/// An event before its transaction context is attached: what the rules
/// produce from one operation or fee.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    /// What happened.
    pub kind: EventKind,
    /// Sender.
    pub from: Option<Strkey>,
    /// Receiver.
    pub to: Option<Strkey>,
    /// Asset (None: custom token).
    pub asset: Option<Asset>,
    /// Amount.
    pub amount: i128,
    /// Emitting contract.
    pub contract_address: Strkey,
    /// Muxed destination info.
    pub to_muxed: Option<MuxedInfo>,
}
