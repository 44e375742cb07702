//! What every output does. (`--output KIND:TARGET` specs are parsed with
//! the configuration: `config::OutputSpec`.)

use arrow::array::RecordBatch;

use crate::flight::BatchMeta;

/// One destination of events. The consumer calls `write` with whole-ledger
/// ranges in order and `commit` to make them durable; `cursor` is the last
/// ledger durably written, so a restart resumes right after it.
pub trait Output: Send {
    /// `kind:target`, for logs and errors.
    fn describe(&self) -> String;
    /// Last ledger durably written; `None` for outputs without a cursor.
    fn cursor(&self) -> Option<u32>;
    /// Takes the rows of ledgers `meta.first_ledger..=meta.last_ledger`.
    fn write(&mut self, batch: &RecordBatch, meta: BatchMeta) -> anyhow::Result<()>;
    /// Whether rotation limits ask for a commit now.
    fn wants_commit(&self) -> bool;
    /// Whether anything was written since the last commit.
    fn pending(&self) -> bool;
    /// Makes everything written durable and moves the cursor.
    fn commit(&mut self) -> anyhow::Result<()>;
    /// (files, bytes) finalised so far, for outputs that write files.
    fn files_written(&self) -> (u64, u64) {
        (0, 0)
    }
}
