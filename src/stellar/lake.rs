//! The Stellar data-lake layout (SEP-54, written by galexie): object keys
//! from ledger sequences, and the `.config.json` manifest.

use serde::Deserialize;

/// File name of the lake manifest.
pub(crate) const MANIFEST: &str = ".config.json";

/// Object suffixes, newest first: galexie wrote `.xdr.zstd` before v23.
pub(crate) const SUFFIXES: [&str; 2] = ["xdr.zst", "xdr.zstd"];

/// `.config.json`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Network passphrase of every ledger in the lake.
    pub network_passphrase: String,
    /// Manifest version, "1.0".
    #[serde(default)]
    pub version: Option<String>,
    /// "zstd".
    #[serde(default)]
    pub compression: Option<String>,
    /// Ledgers per object.
    pub ledgers_per_batch: u32,
    /// Objects per partition directory.
    pub batches_per_partition: u32,
}

/// How ledgers map to objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LakeLayout {
    /// Ledgers per object (≥ 1).
    pub ledgers_per_batch: u32,
    /// Objects per partition (≥ 1; ≤ 1 means no partition directory).
    pub batches_per_partition: u32,
}

impl LakeLayout {
    /// The layout a manifest describes.
    pub(crate) fn from_manifest(manifest: &Manifest) -> Self {
        LakeLayout {
            ledgers_per_batch: manifest.ledgers_per_batch.max(1),
            batches_per_partition: manifest.batches_per_partition.max(1),
        }
    }

    /// First ledger of the object holding `seq`.
    pub(crate) fn batch_start(&self, seq: u32) -> u32 {
        seq - seq % self.ledgers_per_batch
    }

    /// Last ledger of the object holding `seq`.
    pub(crate) fn batch_end(&self, seq: u32) -> u32 {
        let end = u64::from(self.batch_start(seq)) + u64::from(self.ledgers_per_batch) - 1;
        end.min(u64::from(u32::MAX)) as u32
    }

    /// The object key for `seq` with `suffix` (`xdr.zst` or `xdr.zstd`):
    /// `HEX8(0xFFFFFFFF-partStart)--partStart-partEnd/HEX8(0xFFFFFFFF-fileStart)--fileStart[-fileEnd].suffix`.
    pub fn object_key(&self, seq: u32, suffix: &str) -> String {
        let file_start = self.batch_start(seq);
        let file_end = self.batch_end(seq);
        let mut key = String::new();
        if self.batches_per_partition > 1 {
            let part_size =
                u64::from(self.ledgers_per_batch) * u64::from(self.batches_per_partition);
            let part_start = (u64::from(seq) / part_size) * part_size;
            let part_end = (part_start + part_size - 1).min(u64::from(u32::MAX));
            key.push_str(&format!(
                "{:08X}--{part_start}-{part_end}/",
                u32::MAX - part_start as u32
            ));
        }
        key.push_str(&format!("{:08X}--{file_start}", u32::MAX - file_start));
        if file_start != file_end {
            key.push_str(&format!("-{file_end}"));
        }
        key.push('.');
        key.push_str(suffix);
        key
    }
}

/// Parses the ledger range out of an object or partition name such as
/// `FC3D46FB--63092996.xdr.zst` or `FCD285FF--53312000-53375999`.
pub(crate) fn range_from_name(name: &str) -> Option<(u32, u32)> {
    let (_, rest) = name.split_once("--")?;
    let rest = rest.split('.').next()?;
    match rest.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let a = rest.parse().ok()?;
            Some((a, a))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_sep54_examples() {
        let cases = [
            (5, 1, 1, "FFFFFFFA--5.xdr.zst"),
            (5, 10, 1, "FFFFFFFF--0-9.xdr.zst"),
            (150, 50, 2, "FFFFFF9B--100-199/FFFFFF69--150-199.xdr.zst"),
            (2, 1, 64000, "FFFFFFFF--0-63999/FFFFFFFD--2.xdr.zst"),
            (
                50000000,
                1,
                64000,
                "FD054DFF--49984000-50047999/FD050F7F--50000000.xdr.zst",
            ),
            (
                53312000,
                1,
                64000,
                "FCD285FF--53312000-53375999/FCD285FF--53312000.xdr.zst",
            ),
            (
                62016000,
                1,
                64000,
                "FC4DB5FF--62016000-62079999/FC4DB5FF--62016000.xdr.zst",
            ),
            (
                33000000,
                1,
                64000,
                "FE0911FF--32960000-33023999/FE0875BF--33000000.xdr.zst",
            ),
        ];
        for (seq, lpb, bpp, key) in cases {
            let layout = LakeLayout {
                ledgers_per_batch: lpb,
                batches_per_partition: bpp,
            };
            assert_eq!(layout.object_key(seq, "xdr.zst"), key, "seq {seq}");
        }
    }

    #[test]
    fn names_parse_back_to_ranges() {
        assert_eq!(
            range_from_name("FC3D46FB--63092996.xdr.zst"),
            Some((63092996, 63092996))
        );
        assert_eq!(
            range_from_name("FCD285FF--53312000-53375999"),
            Some((53312000, 53375999))
        );
        assert_eq!(range_from_name(".config.json"), None);
    }
}
