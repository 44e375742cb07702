//! The generator's world: accounts, trustlines, claimable balances, pools
//! and a custom token's balances, plus the journal that turns every change
//! into the `LedgerEntryChanges` (STATE/UPDATED/CREATED/REMOVED/RESTORED)
//! core would emit, so balances in meta always agree with the events.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stellar_xdr::{
    AccountEntry, AccountEntryExt, AccountId, AlphaNum12, AlphaNum4, Asset, AssetCode12,
    AssetCode4, ClaimPredicate, ClaimableBalanceEntry, ClaimableBalanceEntryExt,
    ClaimableBalanceId, Claimant, ClaimantV0, ContractDataDurability, ContractDataEntry,
    ContractId, ExtensionPoint, Hash, Int128Parts, LedgerEntry, LedgerEntryChange,
    LedgerEntryChanges, LedgerEntryData, LedgerEntryExt, LedgerKey, LedgerKeyAccount,
    LedgerKeyClaimableBalance, LedgerKeyContractData, LedgerKeyLiquidityPool, LedgerKeyTrustLine,
    LiquidityPoolConstantProductParameters, LiquidityPoolEntry, LiquidityPoolEntryBody,
    LiquidityPoolEntryConstantProduct, LiquidityPoolParameters, PoolId, ScAddress, ScSymbol, ScVal,
    ScVec, SequenceNumber, String32, Thresholds, TrustLineAsset, TrustLineEntry, TrustLineEntryExt,
};

use crate::stellar::address::{account_id, hash_xdr, sac_contract_id};

/// An asset as the generator refers to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AssetRef {
    /// XLM.
    Native,
    /// Index into `World::assets`.
    Credit(usize),
}

/// One ledger entry the journal can snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EntryKey {
    /// An account.
    Account(usize),
    /// A trustline (account, credit asset).
    Trustline(usize, usize),
    /// A claimable balance by id.
    Claimable([u8; 32]),
    /// A liquidity pool by index.
    Pool(usize),
    /// The custom token's balance of an account (contract data).
    TokenBalance(usize),
}

pub(crate) struct AccountState {
    pub key: [u8; 32],
    pub balance: i64,
    pub seq: i64,
    pub last_modified: u32,
    pub alive: bool,
    /// Created during the run (no trustlines; may be merged away).
    pub created: bool,
    /// Taken by a tx of the ledger being built.
    pub busy: bool,
}

pub(crate) struct CreditAsset {
    pub asset: Asset,
    pub issuer: usize,
}

pub(crate) struct ClaimableState {
    pub asset: AssetRef,
    pub amount: i64,
    pub claimant: usize,
    pub last_modified: u32,
}

pub(crate) struct PoolState {
    pub id: [u8; 32],
    pub a: AssetRef,
    pub b: AssetRef,
    pub reserve_a: i64,
    pub reserve_b: i64,
    pub shares: i64,
    pub last_modified: u32,
}

/// Everything the generated network holds.
pub(crate) struct World {
    pub network_id: [u8; 32],
    pub ledger: u32,
    pub rng: ChaCha8Rng,
    pub accounts: Vec<AccountState>,
    /// Accounts 0..base_accounts hold trustlines and token balances.
    pub base_accounts: usize,
    pub assets: Vec<CreditAsset>,
    pub trustlines: BTreeMap<(usize, usize), (i64, u32)>,
    pub claimables: BTreeMap<[u8; 32], ClaimableState>,
    pub pools: Vec<PoolState>,
    pub pool_shares: BTreeMap<(usize, usize), i64>,
    pub token_contract: [u8; 32],
    pub token_balances: BTreeMap<usize, (i128, u32)>,
}

/// Base accounts and issuers start rich so random walks never go negative.
const START_BALANCE: i64 = 1_000_000_000_000_000;
const BASE_ACCOUNTS: usize = 32;

impl World {
    pub fn new(seed: u64, network_id: [u8; 32], first_ledger: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let genesis = first_ledger.saturating_sub(1);
        let mut accounts = Vec::new();
        let new_account = |rng: &mut ChaCha8Rng| AccountState {
            key: rand::Rng::random(rng),
            balance: START_BALANCE,
            seq: i64::from(genesis) << 32,
            last_modified: genesis,
            alive: true,
            created: false,
            busy: false,
        };
        for _ in 0..BASE_ACCOUNTS {
            accounts.push(new_account(&mut rng));
        }
        let issuers = vec![BASE_ACCOUNTS, BASE_ACCOUNTS + 1];
        for _ in &issuers {
            accounts.push(new_account(&mut rng));
        }
        let issuer_id = |i: usize| account_id(accounts[issuers[i]].key);
        let code4 = |code: &str| {
            let mut raw = [0u8; 4];
            raw[..code.len()].copy_from_slice(code.as_bytes());
            AssetCode4(raw)
        };
        let mut code12 = [0u8; 12];
        code12.copy_from_slice(b"STELLARFLOW1");
        let assets = vec![
            CreditAsset {
                asset: Asset::CreditAlphanum4(AlphaNum4 {
                    asset_code: code4("USDC"),
                    issuer: issuer_id(0),
                }),
                issuer: issuers[0],
            },
            CreditAsset {
                asset: Asset::CreditAlphanum4(AlphaNum4 {
                    asset_code: code4("EURT"),
                    issuer: issuer_id(1),
                }),
                issuer: issuers[1],
            },
            CreditAsset {
                asset: Asset::CreditAlphanum12(AlphaNum12 {
                    asset_code: AssetCode12(code12),
                    issuer: issuer_id(0),
                }),
                issuer: issuers[0],
            },
        ];
        let mut trustlines = BTreeMap::new();
        let mut token_balances = BTreeMap::new();
        for account in 0..BASE_ACCOUNTS {
            for asset in 0..assets.len() {
                trustlines.insert((account, asset), (START_BALANCE, genesis));
            }
            token_balances.insert(account, (i128::from(START_BALANCE), genesis));
        }
        let mut world = World {
            network_id,
            ledger: first_ledger,
            token_contract: rand::Rng::random(&mut rng),
            rng,
            accounts,
            base_accounts: BASE_ACCOUNTS,
            assets,
            trustlines,
            claimables: BTreeMap::new(),
            pools: Vec::new(),
            pool_shares: BTreeMap::new(),
            token_balances,
        };
        for (a, b) in [
            (AssetRef::Native, AssetRef::Credit(0)),
            (AssetRef::Credit(1), AssetRef::Credit(0)),
        ] {
            let params =
                LiquidityPoolParameters::LiquidityPoolConstantProduct(world.pool_params(a, b));
            world.pools.push(PoolState {
                id: hash_xdr(&params),
                a,
                b,
                reserve_a: 10_000_000_000_000,
                reserve_b: 10_000_000_000_000,
                shares: 10_000_000_000_000,
                last_modified: genesis,
            });
        }
        world
    }

    fn pool_params(&self, a: AssetRef, b: AssetRef) -> LiquidityPoolConstantProductParameters {
        LiquidityPoolConstantProductParameters {
            asset_a: self.asset(a),
            asset_b: self.asset(b),
            fee: 30,
        }
    }

    pub fn asset(&self, asset: AssetRef) -> Asset {
        match asset {
            AssetRef::Native => Asset::Native,
            AssetRef::Credit(i) => self.assets[i].asset.clone(),
        }
    }

    pub fn sac(&self, asset: AssetRef) -> [u8; 32] {
        sac_contract_id(&self.asset(asset), &self.network_id)
    }

    pub fn account_id(&self, account: usize) -> AccountId {
        account_id(self.accounts[account].key)
    }

    pub fn address(&self, account: usize) -> ScAddress {
        ScAddress::Account(self.account_id(account))
    }

    pub(crate) fn is_issuer(&self, account: usize, asset: AssetRef) -> bool {
        matches!(asset, AssetRef::Credit(i) if self.assets[i].issuer == account)
    }

    /// Moves `delta` of `asset` into (or out of) `account`, journaled.
    /// Issuers have no trustline: their side of a credit move is not stored.
    pub(crate) fn adjust(
        &mut self,
        journal: &mut Journal,
        account: usize,
        asset: AssetRef,
        delta: i64,
    ) {
        match asset {
            AssetRef::Native => {
                journal.touch(self, EntryKey::Account(account));
                let ledger = self.ledger;
                let a = &mut self.accounts[account];
                a.balance += delta;
                a.last_modified = ledger;
            }
            AssetRef::Credit(_) if self.is_issuer(account, asset) => {}
            AssetRef::Credit(i) => {
                journal.touch(self, EntryKey::Trustline(account, i));
                let ledger = self.ledger;
                let line = self.trustlines.entry((account, i)).or_insert((0, ledger));
                line.0 += delta;
                line.1 = ledger;
            }
        }
    }

    /// Bumps an account's sequence number, journaled.
    pub(crate) fn bump_seq(&mut self, journal: &mut Journal, account: usize) -> i64 {
        journal.touch(self, EntryKey::Account(account));
        let ledger = self.ledger;
        let a = &mut self.accounts[account];
        a.seq += 1;
        a.last_modified = ledger;
        a.seq
    }

    pub(crate) fn token_key(&self, account: usize) -> ScVal {
        let symbol = ScSymbol("Balance".try_into().unwrap_or_default());
        let items = vec![ScVal::Symbol(symbol), ScVal::Address(self.address(account))];
        ScVal::Vec(Some(ScVec(items.try_into().unwrap_or_default())))
    }

    /// The current ledger entry for `key`, if it exists.
    pub fn entry(&self, key: EntryKey) -> Option<LedgerEntry> {
        let (last_modified, data) = match key {
            EntryKey::Account(i) => {
                let a = self.accounts.get(i)?;
                if !a.alive {
                    return None;
                }
                (
                    a.last_modified,
                    LedgerEntryData::Account(AccountEntry {
                        account_id: account_id(a.key),
                        balance: a.balance,
                        seq_num: SequenceNumber(a.seq),
                        num_sub_entries: if a.created {
                            0
                        } else {
                            self.assets.len() as u32
                        },
                        inflation_dest: None,
                        flags: 0,
                        home_domain: String32(Default::default()),
                        thresholds: Thresholds([1, 0, 0, 0]),
                        signers: Default::default(),
                        ext: AccountEntryExt::V0,
                    }),
                )
            }
            EntryKey::Trustline(account, asset) => {
                let (balance, last) = *self.trustlines.get(&(account, asset))?;
                let asset_xdr = match &self.assets[asset].asset {
                    Asset::CreditAlphanum4(a) => TrustLineAsset::CreditAlphanum4(a.clone()),
                    Asset::CreditAlphanum12(a) => TrustLineAsset::CreditAlphanum12(a.clone()),
                    Asset::Native => TrustLineAsset::Native,
                };
                (
                    last,
                    LedgerEntryData::Trustline(TrustLineEntry {
                        account_id: self.account_id(account),
                        asset: asset_xdr,
                        balance,
                        limit: i64::MAX,
                        flags: 1,
                        ext: TrustLineEntryExt::V0,
                    }),
                )
            }
            EntryKey::Claimable(id) => {
                let c = self.claimables.get(&id)?;
                (
                    c.last_modified,
                    LedgerEntryData::ClaimableBalance(ClaimableBalanceEntry {
                        balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)),
                        claimants: vec![Claimant::ClaimantTypeV0(ClaimantV0 {
                            destination: self.account_id(c.claimant),
                            predicate: ClaimPredicate::Unconditional,
                        })]
                        .try_into()
                        .unwrap_or_default(),
                        asset: self.asset(c.asset),
                        amount: c.amount,
                        ext: ClaimableBalanceEntryExt::V0,
                    }),
                )
            }
            EntryKey::Pool(i) => {
                let p = &self.pools[i];
                (
                    p.last_modified,
                    LedgerEntryData::LiquidityPool(LiquidityPoolEntry {
                        liquidity_pool_id: PoolId(Hash(p.id)),
                        body: LiquidityPoolEntryBody::LiquidityPoolConstantProduct(
                            LiquidityPoolEntryConstantProduct {
                                params: self.pool_params(p.a, p.b),
                                reserve_a: p.reserve_a,
                                reserve_b: p.reserve_b,
                                total_pool_shares: p.shares,
                                pool_shares_trust_line_count: 1,
                            },
                        ),
                    }),
                )
            }
            EntryKey::TokenBalance(account) => {
                let (amount, last) = *self.token_balances.get(&account)?;
                (
                    last,
                    LedgerEntryData::ContractData(ContractDataEntry {
                        ext: ExtensionPoint::V0,
                        contract: ScAddress::Contract(ContractId(Hash(self.token_contract))),
                        key: self.token_key(account),
                        durability: ContractDataDurability::Persistent,
                        val: i128_val(amount),
                    }),
                )
            }
        };
        Some(LedgerEntry {
            last_modified_ledger_seq: last_modified,
            data,
            ext: LedgerEntryExt::V0,
        })
    }

    /// The ledger key for `key`.
    pub(crate) fn ledger_key(&self, key: EntryKey) -> LedgerKey {
        match key {
            EntryKey::Account(i) => LedgerKey::Account(LedgerKeyAccount {
                account_id: self.account_id(i),
            }),
            EntryKey::Trustline(account, asset) => LedgerKey::Trustline(LedgerKeyTrustLine {
                account_id: self.account_id(account),
                asset: match &self.assets[asset].asset {
                    Asset::CreditAlphanum4(a) => TrustLineAsset::CreditAlphanum4(a.clone()),
                    Asset::CreditAlphanum12(a) => TrustLineAsset::CreditAlphanum12(a.clone()),
                    Asset::Native => TrustLineAsset::Native,
                },
            }),
            EntryKey::Claimable(id) => LedgerKey::ClaimableBalance(LedgerKeyClaimableBalance {
                balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)),
            }),
            EntryKey::Pool(i) => LedgerKey::LiquidityPool(LedgerKeyLiquidityPool {
                liquidity_pool_id: PoolId(Hash(self.pools[i].id)),
            }),
            EntryKey::TokenBalance(account) => LedgerKey::ContractData(LedgerKeyContractData {
                contract: ScAddress::Contract(ContractId(Hash(self.token_contract))),
                key: self.token_key(account),
                durability: ContractDataDurability::Persistent,
            }),
        }
    }
}

/// An `ScVal::I128`.
pub(crate) fn i128_val(v: i128) -> ScVal {
    ScVal::I128(Int128Parts {
        hi: (v >> 64) as i64,
        lo: v as u64,
    })
}

/// Remembers each touched entry's state before its first change and emits
/// the change list at the end, as core does per operation.
#[derive(Default)]
pub(crate) struct Journal {
    order: Vec<EntryKey>,
    before: BTreeMap<EntryKey, Option<LedgerEntry>>,
    restored: BTreeSet<EntryKey>,
}

impl Journal {
    /// Records `key`'s state before it changes (first touch only).
    pub(crate) fn touch(&mut self, world: &World, key: EntryKey) {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.before.entry(key) {
            slot.insert(world.entry(key));
            self.order.push(key);
        }
    }

    /// Like `touch`, but the entry was archived and comes back RESTORED.
    pub(crate) fn restore(&mut self, world: &World, key: EntryKey) {
        self.touch(world, key);
        self.restored.insert(key);
    }

    /// The changes from the recorded states to the world's current ones.
    pub fn finish(self, world: &World) -> LedgerEntryChanges {
        let mut changes = Vec::new();
        for key in self.order {
            let before = self.before.get(&key).cloned().flatten();
            let after = world.entry(key);
            match (before, after) {
                (Some(b), Some(a)) => {
                    if self.restored.contains(&key) {
                        changes.push(LedgerEntryChange::Restored(b));
                    } else {
                        changes.push(LedgerEntryChange::State(b));
                    }
                    changes.push(LedgerEntryChange::Updated(a));
                }
                (None, Some(a)) => changes.push(LedgerEntryChange::Created(a)),
                (Some(b), None) => {
                    changes.push(LedgerEntryChange::State(b));
                    changes.push(LedgerEntryChange::Removed(world.ledger_key(key)));
                }
                (None, None) => {}
            }
        }
        LedgerEntryChanges(changes.try_into().unwrap_or_default())
    }
}
