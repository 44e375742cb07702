//! The fast decoder checked against the reference on one ledger's bytes:
//! the same events (every field, in order) and the same `ttp_event`
//! batch, the same source summary, or a refusal from both. The test suite,
//! `stellarflow bench decoders` and the fuzz target all use this check.

use super::{Decoder, Extractor, Mode};
use crate::processor::ttp_batch;
use crate::stellar::{decode_ledger, LedgerSummary, Network};

/// What both decoders made of one ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Both gave these many identical events.
    Events(usize),
    /// Both refused the ledger.
    Refused,
}

/// Runs both decoders on `xdr` in `mode`; an error describes how they
/// disagree.
pub fn compare_decoders(
    xdr: &[u8],
    network: &Network,
    mode: Mode,
    depth: u32,
) -> Result<Agreement, String> {
    let fast = Extractor::new().extract(xdr, network, mode, Decoder::Fast, depth);
    let reference = Extractor::new().extract(xdr, network, mode, Decoder::Reference, depth);
    let agreement = match (fast, reference) {
        (Ok((a, mode_a)), Ok((b, mode_b))) => {
            if mode_a != mode_b {
                return Err(format!(
                    "resolved modes differ: fast {mode_a:?}, reference {mode_b:?}"
                ));
            }
            if a != b {
                let at = a.iter().zip(&b).position(|(x, y)| x != y);
                return Err(format!(
                    "{} fast events vs {} reference; first difference at {at:?}: {:?} vs {:?}",
                    a.len(),
                    b.len(),
                    at.map(|i| &a[i]),
                    at.map(|i| &b[i])
                ));
            }
            let batches = (ttp_batch(&a), ttp_batch(&b));
            match batches {
                (Ok(x), Ok(y)) if x == y => {}
                _ => return Err("equal events gave different batches".into()),
            }
            Agreement::Events(a.len())
        }
        (Err(a), Err(b)) => {
            if a.to_string() != b.to_string() {
                return Err(format!("both refuse, differently: fast {a}; reference {b}"));
            }
            Agreement::Refused
        }
        (Ok((events, _)), Err(e)) => {
            return Err(format!(
                "fast gave {} events, reference refused: {e}",
                events.len()
            ))
        }
        (Err(e), Ok((events, _))) => {
            return Err(format!(
                "fast refused ({e}), reference gave {} events",
                events.len()
            ))
        }
    };
    let fast = LedgerSummary::from_xdr(xdr, depth);
    let reference = decode_ledger(xdr, depth)
        .map_err(|e| e.to_string())
        .and_then(|meta| LedgerSummary::of(&meta));
    match (fast, reference) {
        (Ok(a), Ok(b)) if a != b => Err(format!("summaries differ: {a:?} vs {b:?}")),
        (Ok(_), Err(e)) => Err(format!(
            "fast summarised a ledger the reference refuses: {e}"
        )),
        (Err(e), Ok(_)) => Err(format!("fast refused a summary the reference makes: {e}")),
        _ => Ok(agreement),
    }
}
