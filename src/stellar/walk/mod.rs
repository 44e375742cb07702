//! A zero-copy reader for `LedgerCloseMeta`: it walks the XDR bytes in
//! place, validating everything exactly as `stellar-xdr` would (the same
//! depth limit, the same refusals), and records where the few parts that
//! token-transfer extraction and the source read are, without building the
//! fully owned tree `stellar-xdr` allocates. Those parts are then read
//! through small borrowed views ([`ScValRef`], [`ContractEventRef`]) or, for
//! the rarer shapes derived mode needs, decoded alone with `stellar-xdr`.
//!
//! Why: decoding a whole ledger costs several times what extracting its
//! events needs, and the source, which only reads the header and counts,
//! paid for a full decode of every ledger. The full decoder stays as the
//! reference path and the two are checked against each other (tests and a
//! fuzz target).

mod ledger;
mod reader;
mod scval;
#[rustfmt::skip]
mod skip;

pub use ledger::{
    EnvelopeRef, EventRef, Header, LedgerIndex, Span, TxRef, ENVELOPE_TX, ENVELOPE_TX_FEE_BUMP,
    ENVELOPE_TX_V0, TX_FEE_BUMP_INNER_SUCCESS, TX_SUCCESS,
};
pub(crate) use reader::Reader;
pub use scval::{AddressRef, ContractEventRef, MapIter, ScValRef};

/// The length of the `LedgerCloseMeta` at the start of `xdr`, validating
/// it on the way.
pub(crate) fn ledger_len(xdr: &[u8], depth: u32) -> Result<usize, stellar_xdr::Error> {
    let mut r = Reader::new(xdr, depth);
    skip::skip_ledger_close_meta(&mut r)?;
    Ok(r.pos())
}
