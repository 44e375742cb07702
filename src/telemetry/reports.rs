//! What one part reads from another, as types both sides share: the sink's
//! progress (`/api/progress`, read by the pipeline's progress bar and
//! `pipeline status`) and the summary a bounded sink leaves in its state dir
//! (read by the pipeline's closing summary). A field renamed on one side
//! fails to compile on the other instead of reading as zero.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The sink's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkProgress {
    /// Last ledger every output committed.
    pub cursor: Option<u32>,
    /// Last ledger received (written, maybe not yet committed).
    pub ledger: Option<u32>,
    /// Events written.
    pub events: u64,
    /// Events written per event type.
    pub events_by_type: BTreeMap<String, u64>,
    /// Files finalised by file outputs.
    pub files: u64,
    /// Bytes finalised by file outputs.
    pub bytes: u64,
}

/// `summary.json`: what a bounded sink did, written when it finishes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunSummary {
    /// First ledger of the range.
    pub start: Option<u32>,
    /// Last ledger of the range.
    pub end: Option<u32>,
    /// The outputs written.
    pub outputs: Vec<String>,
    /// Counters at the end.
    pub progress: SinkProgress,
}

impl RunSummary {
    /// The summary's file name inside the sink's state dir.
    pub(crate) const FILE: &'static str = "summary.json";

    /// Writes the summary into `state_dir`.
    pub fn write(&self, state_dir: &Path) -> anyhow::Result<()> {
        crate::durable::write_json(&state_dir.join(Self::FILE), self)
    }

    /// Reads the summary in `state_dir`, if there is one.
    pub fn read(state_dir: &Path) -> Option<Self> {
        crate::durable::read_json(&state_dir.join(Self::FILE))
    }
}
