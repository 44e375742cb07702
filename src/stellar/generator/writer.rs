//! Writing a data lake: `LedgerCloseMetaBatch` objects, zstd-compressed,
//! under SEP-54 keys, each written to a temporary name and renamed, plus the
//! `.config.json` manifest.

use std::io::Write;
use std::path::{Path, PathBuf};

use stellar_xdr::{LedgerCloseMeta, Limits, WriteXdr};

use super::{ledgers, GeneratorOptions};
use crate::stellar::decode::{decode_batch, decompress, MAX_DECOMPRESSED};
use crate::stellar::lake::{range_from_name, LakeLayout, Manifest, MANIFEST};
use crate::stellar::ledger::{header_hash, LedgerView};
use crate::stellar::{Network, DEFAULT_XDR_DEPTH};

/// What a lake write produced.
#[derive(Debug, Clone, Default)]
pub struct WriteSummary {
    /// Ledgers written.
    pub ledgers: u32,
    /// Objects written.
    pub objects: u32,
    /// Uncompressed XDR bytes.
    pub xdr_bytes: u64,
    /// Compressed bytes on disk.
    pub compressed_bytes: u64,
    /// Token-transfer events the generator put in (0 for re-sequenced lakes).
    pub events: u64,
}

/// Writes ledgers into a lake directory, batching by the layout.
pub struct LakeWriter {
    root: PathBuf,
    layout: LakeLayout,
    pending: Vec<(u32, Vec<u8>)>,
    summary: WriteSummary,
}

impl LakeWriter {
    /// Creates `root` and its manifest.
    pub fn create(root: &Path, network: &Network, layout: LakeLayout) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", root.display()))?;
        let manifest = Manifest {
            network_passphrase: network.passphrase.clone(),
            version: Some("1.0".into()),
            compression: Some("zstd".into()),
            ledgers_per_batch: layout.ledgers_per_batch,
            batches_per_partition: layout.batches_per_partition,
        };
        crate::durable::write_atomic(
            &root.join(MANIFEST),
            serde_json::to_vec(&manifest)?.as_slice(),
        )?;
        Ok(LakeWriter {
            root: root.to_path_buf(),
            layout,
            pending: Vec::new(),
            summary: WriteSummary::default(),
        })
    }

    /// Adds the next ledger; writes an object when its batch is complete.
    pub fn push(&mut self, meta: &LedgerCloseMeta) -> anyhow::Result<()> {
        let seq = LedgerView::new(meta).sequence();
        if let Some((last, _)) = self.pending.last() {
            if self.layout.batch_start(*last) != self.layout.batch_start(seq) {
                self.flush()?;
            }
        }
        self.pending.push((seq, meta.to_xdr(Limits::none())?));
        if seq == self.layout.batch_end(seq) {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes any partial batch and returns the totals.
    pub fn finish(mut self) -> anyhow::Result<WriteSummary> {
        self.flush()?;
        Ok(self.summary)
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        let Some((first, _)) = self.pending.first() else {
            return Ok(());
        };
        let first = *first;
        let last = self.pending.last().map(|(s, _)| *s).unwrap_or(first);
        let mut raw = Vec::new();
        raw.extend_from_slice(&first.to_be_bytes());
        raw.extend_from_slice(&last.to_be_bytes());
        raw.extend_from_slice(&(self.pending.len() as u32).to_be_bytes());
        for (_, xdr) in &self.pending {
            raw.extend_from_slice(xdr);
        }
        let compressed = zstd::bulk::compress(&raw, 3)?;
        let key = self.layout.object_key(first, "xdr.zst");
        let path = self.root.join(&key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::durable::write_atomic(&path, &compressed)?;
        self.summary.ledgers += self.pending.len() as u32;
        self.summary.objects += 1;
        self.summary.xdr_bytes += raw.len() as u64 - 12;
        self.summary.compressed_bytes += compressed.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

/// Generates `options` into a lake at `out`; with `expected`, also writes
/// the token-transfer events the generator put in, as JSON lines.
pub fn write_lake(
    options: &GeneratorOptions,
    out: &Path,
    expected: Option<&Path>,
) -> anyhow::Result<WriteSummary> {
    let layout = LakeLayout {
        ledgers_per_batch: options.ledgers_per_batch.max(1),
        batches_per_partition: options.batches_per_partition.max(1),
    };
    let mut writer = LakeWriter::create(out, &options.network, layout)?;
    let mut expected_file = match expected {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    let mut events = 0u64;
    for ledger in ledgers(options) {
        writer.push(&ledger.meta)?;
        events += ledger.expected.len() as u64;
        if let Some(file) = expected_file.as_mut() {
            for e in &ledger.expected {
                let muxed = e.to_muxed.as_ref().map(|m| match m {
                    super::Muxed::Id(id) => serde_json::json!({"id": id.to_string()}),
                    super::Muxed::Text(t) => serde_json::json!({"text": t}),
                    super::Muxed::Hash(h) => serde_json::json!({"hash": hex::encode(h)}),
                });
                let line = serde_json::json!({
                    "ledger": e.ledger, "tx_hash": e.tx_hash, "transaction_index": e.transaction_index,
                    "operation_index": e.operation_index, "event_type": e.event_type, "from": e.from,
                    "to": e.to, "asset": e.asset, "amount": e.amount.to_string(),
                    "contract_address": e.contract_address, "to_muxed": muxed,
                });
                writeln!(file, "{line}")?;
            }
        }
    }
    if let Some(mut file) = expected_file {
        file.flush()?;
    }
    let mut summary = writer.finish()?;
    summary.events = events;
    Ok(summary)
}

/// Every ledger of a local lake, in sequence order.
fn read_local_lake(dir: &Path) -> anyhow::Result<(Network, Vec<LedgerCloseMeta>)> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.join(MANIFEST))
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(MANIFEST).display()))?,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{} is not a lake manifest: {e}",
            dir.join(MANIFEST).display()
        )
    })?;
    let mut objects = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".xdr.zst") || name.ends_with(".xdr.zstd") {
                if let Some((start, _)) = range_from_name(&name) {
                    objects.push((start, path));
                }
            }
        }
    }
    objects.sort();
    let mut ledgers = Vec::new();
    for (_, path) in objects {
        let raw = decompress(&std::fs::read(&path)?, MAX_DECOMPRESSED)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let batch = decode_batch(raw.into(), DEFAULT_XDR_DEPTH)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        ledgers.extend(batch.ledgers.into_iter().map(|l| l.meta));
    }
    Ok((
        Network::from_passphrase(&manifest.network_passphrase),
        ledgers,
    ))
}

/// Re-sequences the real ledgers of `from` into `count` consecutive ledgers
/// starting at `start` (cycling through them), with close times 5 s apart
/// and a fresh header hash chain. Transactions are untouched, so tx hashes
/// stay valid under the source lake's network.
pub fn resequence_lake(
    from: &Path,
    out: &Path,
    start: u32,
    count: u32,
    layout: LakeLayout,
) -> anyhow::Result<WriteSummary> {
    let (network, source) = read_local_lake(from)?;
    anyhow::ensure!(!source.is_empty(), "{} holds no ledgers", from.display());
    let first_close = LedgerView::new(&source[0]).close_time();
    let mut writer = LakeWriter::create(out, &network, layout)?;
    let mut previous = [0u8; 32];
    for i in 0..count {
        let mut meta = source[i as usize % source.len()].clone();
        let entry = match &mut meta {
            LedgerCloseMeta::V0(m) => {
                m.tx_set.previous_ledger_hash = stellar_xdr::Hash(previous);
                &mut m.ledger_header
            }
            LedgerCloseMeta::V1(m) => &mut m.ledger_header,
            LedgerCloseMeta::V2(m) => &mut m.ledger_header,
        };
        entry.header.ledger_seq = start + i;
        entry.header.previous_ledger_hash = stellar_xdr::Hash(previous);
        entry.header.scp_value.close_time = stellar_xdr::TimePoint(first_close + 5 * u64::from(i));
        previous = header_hash(&entry.header);
        entry.hash = stellar_xdr::Hash(previous);
        writer.push(&meta)?;
    }
    writer.finish()
}
