//! Benchmark inputs: a data lake's objects read into memory, and a default
//! corpus when no lake is given (the real fixture ledgers re-sequenced when
//! they are beside the project, otherwise generated ledgers).

use std::path::{Path, PathBuf};

use crate::stellar::generator::{self, GeneratorOptions};
use crate::stellar::lake::range_from_name;
use crate::stellar::LakeLayout;

/// A lake's objects, in ledger order.
pub(crate) struct Corpus {
    /// The lake directory.
    pub dir: PathBuf,
    /// (first ledger, last ledger, compressed bytes) per object.
    pub objects: Vec<(u32, u32, Vec<u8>)>,
    /// Keeps a generated lake alive for the benchmark's duration.
    _temp: Option<tempfile::TempDir>,
}

impl Corpus {
    /// Loads `dir`, or makes a default corpus of `ledgers` ledgers.
    /// `announce` prints which corpus was made.
    pub(crate) fn load_or_make(
        dir: Option<&Path>,
        ledgers: u32,
        announce: bool,
    ) -> anyhow::Result<Self> {
        let (dir, temp) = match dir {
            Some(dir) => (dir.to_path_buf(), None),
            None => {
                let temp = tempfile::tempdir()?;
                let out = temp.path().join("lake");
                let fixtures =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/stellar-fixtures/lake");
                if fixtures.join(".config.json").is_file() {
                    if announce {
                        println!(
                            "corpus: {ledgers} real pubnet ledgers (the fixtures, re-sequenced)"
                        );
                    }
                    let layout = LakeLayout {
                        ledgers_per_batch: 1,
                        batches_per_partition: 64000,
                    };
                    generator::resequence_lake(&fixtures, &out, 10_000_000, ledgers, layout)?;
                } else {
                    if announce {
                        println!("corpus: {ledgers} generated ledgers (fixtures not found)");
                    }
                    let mut options = GeneratorOptions::new(10_000_000, ledgers, 1);
                    options.txs_per_ledger = 200;
                    generator::write_lake(&options, &out, None)?;
                }
                (out, Some(temp))
            }
        };
        let mut objects = Vec::new();
        for path in object_paths(&dir)? {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if let Some((first, last)) = range_from_name(name) {
                objects.push((first, last, std::fs::read(&path)?));
            }
        }
        anyhow::ensure!(
            !objects.is_empty(),
            "{} holds no ledger objects",
            dir.display()
        );
        objects.sort_by_key(|o| o.0);
        Ok(Corpus {
            dir,
            objects,
            _temp: temp,
        })
    }

    /// Contiguous ledger runs, for requesting a lake with gaps piecewise.
    pub fn runs(&self) -> Vec<(u32, u32)> {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (first, last, _) in &self.objects {
            match runs.last_mut() {
                Some(run) if run.1 + 1 == *first => run.1 = *last,
                _ => runs.push((*first, *last)),
            }
        }
        runs
    }

    /// Number of ledgers.
    pub fn ledgers(&self) -> u64 {
        self.objects
            .iter()
            .map(|(a, b, _)| u64::from(b - a + 1))
            .sum()
    }
}

/// Every ledger object (`*.xdr.zst*`) under a lake directory, sorted.
pub(crate) fn object_paths(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)
            .map_err(|e| anyhow::anyhow!("{}: {e}", current.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().contains(".xdr.zst") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs `f` over the objects on `threads` threads; returns its outputs summed.
pub(crate) fn parallel<F>(
    objects: &[(u32, u32, Vec<u8>)],
    threads: usize,
    f: F,
) -> anyhow::Result<u64>
where
    F: Fn(&[u8]) -> anyhow::Result<u64> + Sync,
{
    let chunk = objects.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = objects
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                scope.spawn(move || {
                    part.iter()
                        .map(|(_, _, bytes)| f(bytes))
                        .sum::<anyhow::Result<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("benchmark thread panicked"))?
            })
            .sum()
    })
}
