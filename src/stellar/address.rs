//! Addresses and assets as analysts see them: strkeys (G/M/C/B/L), SEP-11
//! asset strings, and the contract id of a Stellar Asset Contract.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash as StdHash;
use std::thread::LocalKey;

use sha2::{Digest, Sha256};
use stellar_xdr::{
    AccountId, AlphaNum12, AlphaNum4, Asset, AssetCode12, AssetCode4, ClaimableBalanceId,
    ContractIdPreimage, Hash, HashIdPreimage, HashIdPreimageContractId, Limits, MuxedAccount,
    PoolId, PublicKey, Uint256, WriteXdr,
};

/// A rendered strkey, shared: events repeat the same addresses many times,
/// and cloning this is a reference count, not an allocation.
pub type Strkey = std::sync::Arc<str>;

/// G... strkey of an account.
pub fn account(id: &AccountId) -> Strkey {
    let AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(key))) = id;
    account_from_key(key)
}

/// G... strkey of raw ed25519 key bytes.
pub(crate) fn account_from_key(key: &[u8; 32]) -> Strkey {
    thread_local! {
        static ACCOUNTS: Memo<[u8; 32], Strkey> = Memo::default();
    }
    memoised(&ACCOUNTS, key, || {
        format!("{}", stellar_strkey::ed25519::PublicKey(*key)).into()
    })
}

/// The account behind a (possibly muxed) account and its mux id.
pub fn demux(account: &MuxedAccount) -> (AccountId, Option<u64>) {
    match account {
        MuxedAccount::Ed25519(key) => (
            AccountId(PublicKey::PublicKeyTypeEd25519(key.clone())),
            None,
        ),
        MuxedAccount::MuxedEd25519(m) => (
            AccountId(PublicKey::PublicKeyTypeEd25519(m.ed25519.clone())),
            Some(m.id),
        ),
    }
}

/// A per-thread memo: extraction renders the same few hundred strkeys and
/// assets thousands of times a ledger, and each rendering costs a base32
/// encoding or a hash. Bounded: cleared when it holds `MEMO_LIMIT` entries.
pub(crate) type Memo<K, V> = RefCell<HashMap<K, V, foldhash::fast::RandomState>>;

const MEMO_LIMIT: usize = 100_000;

/// The memoised value of `key` in `memo`, computed by `f` when new.
pub(crate) fn memoised<K, V, Q>(
    memo: &'static LocalKey<Memo<K, V>>,
    key: &Q,
    f: impl FnOnce() -> V,
) -> V
where
    K: StdHash + Eq + std::borrow::Borrow<Q>,
    Q: StdHash + Eq + ToOwned<Owned = K> + ?Sized,
    V: Clone,
{
    memo.with(|memo| {
        if let Some(found) = memo.borrow().get(key) {
            return found.clone();
        }
        let value = f();
        let mut memo = memo.borrow_mut();
        if memo.len() >= MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(key.to_owned(), value.clone());
        value
    })
}

/// C... strkey of a contract id.
pub fn contract(id: &[u8; 32]) -> Strkey {
    thread_local! {
        static CONTRACTS: Memo<[u8; 32], Strkey> = Memo::default();
    }
    memoised(&CONTRACTS, id, || {
        format!("{}", stellar_strkey::Contract(*id)).into()
    })
}

/// L... strkey of a liquidity pool.
pub fn pool(id: &PoolId) -> Strkey {
    thread_local! {
        static POOLS: Memo<[u8; 32], Strkey> = Memo::default();
    }
    memoised(&POOLS, &id.0 .0, || id.to_string().into())
}

/// B... strkey of a claimable balance.
pub fn claimable_balance(id: &ClaimableBalanceId) -> Strkey {
    thread_local! {
        static BALANCES: Memo<[u8; 32], Strkey> = Memo::default();
    }
    let ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(bytes)) = id;
    memoised(&BALANCES, bytes, || id.to_string().into())
}

/// The raw bytes of an asset code with trailing NULs removed (not
/// `Display`, which pads short 12-byte codes).
pub fn asset_code(asset: &Asset) -> Option<String> {
    let raw: &[u8] = match asset {
        Asset::Native => return None,
        Asset::CreditAlphanum4(a) => &a.asset_code.0,
        Asset::CreditAlphanum12(a) => &a.asset_code.0,
    };
    let end = raw
        .iter()
        .rposition(|b| *b != 0)
        .map(|i| i + 1)
        .unwrap_or(0);
    Some(String::from_utf8_lossy(&raw[..end]).into_owned())
}

/// The issuer of a credit asset.
pub(crate) fn asset_issuer(asset: &Asset) -> Option<&AccountId> {
    match asset {
        Asset::Native => None,
        Asset::CreditAlphanum4(a) => Some(&a.issuer),
        Asset::CreditAlphanum12(a) => Some(&a.issuer),
    }
}

/// SEP-11 form: `native` or `CODE:ISSUER`.
pub fn asset_string(asset: &Asset) -> String {
    match (asset_code(asset), asset_issuer(asset)) {
        (Some(code), Some(issuer)) => format!("{code}:{issuer}"),
        _ => "native".into(),
    }
}

/// `native`, `credit_alphanum4` or `credit_alphanum12`.
pub fn asset_type(asset: &Asset) -> &'static str {
    match asset {
        Asset::Native => "native",
        Asset::CreditAlphanum4(_) => "credit_alphanum4",
        Asset::CreditAlphanum12(_) => "credit_alphanum12",
    }
}

/// Parses SEP-11 `native` or `CODE:G...` with an alphanumeric code of 1-12
/// characters (1-4 → alphanum4, 5-12 → alphanum12).
pub fn parse_asset(text: &str) -> Option<Asset> {
    thread_local! {
        static ASSETS: Memo<String, Option<Asset>> = Memo::default();
    }
    memoised(&ASSETS, text, || parse_asset_uncached(text))
}

fn parse_asset_uncached(text: &str) -> Option<Asset> {
    if text == "native" {
        return Some(Asset::Native);
    }
    let (code, issuer) = text.split_once(':')?;
    if code.is_empty() || code.len() > 12 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let issuer: AccountId = issuer.parse().ok()?;
    Some(if code.len() <= 4 {
        let mut raw = [0u8; 4];
        raw[..code.len()].copy_from_slice(code.as_bytes());
        Asset::CreditAlphanum4(AlphaNum4 {
            asset_code: AssetCode4(raw),
            issuer,
        })
    } else {
        let mut raw = [0u8; 12];
        raw[..code.len()].copy_from_slice(code.as_bytes());
        Asset::CreditAlphanum12(AlphaNum12 {
            asset_code: AssetCode12(raw),
            issuer,
        })
    })
}

/// sha256(XDR `HashIdPreimage::ContractId { network_id, FromAsset(asset) }`):
/// the contract id of `asset`'s Stellar Asset Contract on a network.
/// Extraction asks for it per event, so results are cached per thread (a
/// ledger touches few distinct assets; the cache is cleared when large).
pub fn sac_contract_id(asset: &Asset, network_id: &[u8; 32]) -> [u8; 32] {
    thread_local! {
        /// (network id, asset) → contract id.
        static SACS: Memo<([u8; 32], Asset), [u8; 32]> = Memo::default();
    }
    let key = (*network_id, asset.clone());
    memoised(&SACS, &key, || {
        hash_xdr(&HashIdPreimage::ContractId(HashIdPreimageContractId {
            network_id: Hash(*network_id),
            contract_id_preimage: ContractIdPreimage::Asset(asset.clone()),
        }))
    })
}

/// C... strkey of `asset`'s Stellar Asset Contract on a network.
pub fn sac_address(asset: &Asset, network_id: &[u8; 32]) -> Strkey {
    contract(&sac_contract_id(asset, network_id))
}

/// sha256 of a value's XDR.
pub fn hash_xdr(value: &impl WriteXdr) -> [u8; 32] {
    Sha256::digest(value.to_xdr(Limits::none()).unwrap_or_default()).into()
}

/// An account id from raw ed25519 key bytes.
pub fn account_id(key: [u8; 32]) -> AccountId {
    AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stellar::Network;

    #[test]
    fn native_sac_ids_match_the_reference() {
        let cases = [
            (
                "pubnet",
                "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA",
            ),
            (
                "testnet",
                "CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC",
            ),
            (
                "futurenet",
                "CB64D3G7SM2RTH6JSGG34DDTFTQ5CFDKVDZJZSODMCX4NJ2HV2KN7OHT",
            ),
            (
                "standalone",
                "CDMLFMKMMD7MWZP3FKUBZPVHTUEDLSX4BYGYKH4GCESXYHS3IHQ4EIG4",
            ),
        ];
        for (name, sac) in cases {
            let network = Network::parse(name).unwrap();
            assert_eq!(
                &*contract(&sac_contract_id(&Asset::Native, &network.id)),
                sac,
                "{name}"
            );
        }
    }

    #[test]
    fn sep11_round_trip() {
        let issuer = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
        let usdc = parse_asset(&format!("USDC:{issuer}")).unwrap();
        assert_eq!(asset_string(&usdc), format!("USDC:{issuer}"));
        assert_eq!(asset_type(&usdc), "credit_alphanum4");
        let long = parse_asset(&format!("STELLARFLOW1:{issuer}")).unwrap();
        assert_eq!(asset_type(&long), "credit_alphanum12");
        assert!(parse_asset("US-D:G").is_none());
    }
}
