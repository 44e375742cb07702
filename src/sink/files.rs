//! Parquet, JSONL and CSV outputs: rows go to temporary files, one per
//! Hive partition `date=YYYY-MM-DD/` of the ledger close date; a commit
//! closes them and renames them to `<schema>-<first>-<last>.<ext>` named by
//! the ledger range, so readers never see half a file. Rotation (rows,
//! bytes) and the flush interval decide when to commit.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch, TimestampSecondArray};
use arrow::csv::Writer as CsvWriter;
use arrow::json::writer::{LineDelimited, Writer as JsonWriter};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::cursor::{CursorFile, Intent, State};
use super::output::Output;
use crate::durable::sync_dir;
use crate::flight::BatchMeta;

/// Which file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Parquet, zstd.
    Parquet,
    /// JSON lines.
    Jsonl,
    /// CSV with a header.
    Csv,
}

impl Format {
    fn kind(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// Rotation limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Parquet row-group size.
    pub row_group_rows: usize,
    /// Commit after this many rows.
    pub rotate_rows: u64,
    /// Commit after about this many bytes.
    pub rotate_bytes: u64,
}

enum Writer {
    Parquet(ArrowWriter<File>),
    Jsonl(JsonWriter<BufWriter<File>, LineDelimited>),
    Csv(CsvWriter<BufWriter<File>>),
}

struct OpenFile {
    tmp: PathBuf,
    partition: PathBuf,
    writer: Writer,
    bytes: u64,
}

/// A file output.
pub struct FileOutput {
    format: Format,
    dir: PathBuf,
    limits: Limits,
    state: CursorFile,
    cursor: Option<u32>,
    pending: Option<(u32, u32)>,
    open: BTreeMap<String, OpenFile>,
    rows: u64,
    prefix: Option<String>,
    /// Files finalised so far (for heartbeats).
    pub files_written: u64,
    /// Bytes finalised so far.
    pub bytes_written: u64,
}

fn io(what: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{}: {e}", what.display())
}

/// Columns whose values rarely repeat (event ids, amounts, transaction
/// hashes, holders), written without a dictionary.
const UNIQUE_COLUMNS: [&str; 5] = ["event_id", "amount", "tx_hash", "from", "to"];

/// Columns whose min/max let a reader skip nothing: event ids and amounts
/// compare as text; transaction hashes and holders' strkeys are random, so
/// every row group spans nearly all of them.
const UNORDERED_COLUMNS: [&str; 5] = ["event_id", "amount", "tx_hash", "from", "to"];

/// `YYYY-MM-DD` of a unix time.
fn date_of(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

impl FileOutput {
    /// Opens the output: checks the directory is writable, finishes or
    /// rolls back an interrupted commit, and removes stray temporary files.
    pub fn open(
        format: Format,
        dir: &Path,
        state_dir: &Path,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        let name = format!("{}:{}", format.kind(), dir.display());
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("{name}: cannot create {}: {e}", dir.display()))?;
        let state_file = CursorFile::new(state_dir, &name)?;
        let mut state = state_file.load()?;
        // Renames need no space, so an interrupted commit is finished
        // first; then the temporaries of a failed attempt are removed, which
        // frees the space a full disk needs before anything is written.
        let finished = state.intent.take();
        if let Some(intent) = &finished {
            for (tmp, final_path) in &intent.files {
                if !final_path.exists() {
                    std::fs::rename(tmp, final_path).map_err(|e| {
                        anyhow::anyhow!(
                            "{name}: cannot finish an interrupted commit of {}: {e}",
                            final_path.display()
                        )
                    })?;
                }
            }
        }
        remove_temporaries(dir)?;
        let probe = dir.join(".stellarflow-write-probe");
        std::fs::write(&probe, b"probe").map_err(|e| {
            anyhow::anyhow!("{name}: directory {} is not writable: {e}", dir.display())
        })?;
        let _ = std::fs::remove_file(&probe);
        if let Some(intent) = finished {
            tracing::warn!(output = %name, cursor = intent.end, "finished a commit interrupted by a crash");
            state.ledger = Some(intent.end);
            state_file.store(&state)?;
        }
        if state.ledger.is_none() {
            if let Some(end) = newest_file_end(dir) {
                tracing::warn!(output = %name, cursor = end, "no cursor file; resuming after the newest file found");
                state.ledger = Some(end);
                state_file.store(&state)?;
            }
        }
        Ok(FileOutput {
            format,
            dir: dir.to_path_buf(),
            limits,
            state: state_file,
            cursor: state.ledger,
            pending: None,
            open: BTreeMap::new(),
            rows: 0,
            prefix: None,
            files_written: 0,
            bytes_written: 0,
        })
    }

    fn open_file(
        &mut self,
        date: &str,
        batch: &RecordBatch,
        first: u32,
    ) -> anyhow::Result<OpenFile> {
        let partition = self.dir.join(format!("date={date}"));
        std::fs::create_dir_all(&partition).map_err(|e| io(&partition, e))?;
        let prefix = self.prefix.clone().unwrap_or_else(|| "events".into());
        let tmp = partition.join(format!(
            ".{prefix}-{first:010}.{}.inprogress",
            self.format.extension()
        ));
        let file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        let writer = match self.format {
            Format::Parquet => {
                let mut props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
                    .set_max_row_group_row_count(Some(self.limits.row_group_rows));
                // Nearly unique per row: a dictionary costs a hash lookup per
                // value and is dropped by the writer anyway once it grows.
                for column in UNIQUE_COLUMNS {
                    props = props.set_column_dictionary_enabled(column.into(), false);
                }
                // Computing min/max compares every value; for these
                // columns it buys nothing.
                for column in UNORDERED_COLUMNS {
                    props = props.set_column_statistics_enabled(
                        column.into(),
                        parquet::file::properties::EnabledStatistics::None,
                    );
                }
                let props = props.build();
                Writer::Parquet(ArrowWriter::try_new(file, batch.schema(), Some(props))?)
            }
            Format::Jsonl => Writer::Jsonl(
                arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, LineDelimited>(BufWriter::new(file)),
            ),
            Format::Csv => Writer::Csv(
                arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(BufWriter::new(file)),
            ),
        };
        Ok(OpenFile {
            tmp,
            partition,
            writer,
            bytes: 0,
        })
    }

    fn write_rows(&mut self, date: String, rows: &RecordBatch, first: u32) -> anyhow::Result<()> {
        if !self.open.contains_key(&date) {
            let file = self.open_file(&date, rows, first)?;
            self.open.insert(date.clone(), file);
        }
        let Some(open) = self.open.get_mut(&date) else {
            return Ok(());
        };
        let tmp = open.tmp.clone();
        match &mut open.writer {
            Writer::Parquet(w) => {
                w.write(rows).map_err(|e| io(&tmp, e))?;
                open.bytes = (w.bytes_written() + w.in_progress_size()) as u64;
            }
            Writer::Jsonl(w) => {
                w.write(rows).map_err(|e| io(&tmp, e))?;
                open.bytes += rows.get_array_memory_size() as u64 / 2;
            }
            Writer::Csv(w) => {
                w.write(rows).map_err(|e| io(&tmp, e))?;
                open.bytes += rows.get_array_memory_size() as u64 / 3;
            }
        }
        Ok(())
    }
}

/// Deletes `*.inprogress` files left by an interrupted run.
fn remove_temporaries(dir: &Path) -> anyhow::Result<()> {
    for entry in walk(dir) {
        if entry.extension().is_some_and(|e| e == "inprogress") {
            std::fs::remove_file(&entry).map_err(|e| io(&entry, e))?;
        }
    }
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The last ledger of the newest finalised file (`*-<first>-<last>.<ext>`).
fn newest_file_end(dir: &Path) -> Option<u32> {
    walk(dir)
        .iter()
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?;
            stem.rsplit('-').next()?.parse::<u32>().ok()
        })
        .max()
}

impl Output for FileOutput {
    fn describe(&self) -> String {
        format!("{}:{}", self.format.kind(), self.dir.display())
    }

    fn cursor(&self) -> Option<u32> {
        self.cursor
    }

    fn write(&mut self, batch: &RecordBatch, meta: BatchMeta) -> anyhow::Result<()> {
        let pending = self
            .pending
            .get_or_insert((meta.first_ledger, meta.last_ledger));
        pending.1 = meta.last_ledger;
        let first = pending.0;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.prefix.is_none() {
            let name = batch
                .schema()
                .metadata
                .get(crate::schema::NAME_KEY)
                .cloned()
                .unwrap_or_else(|| "events".into());
            self.prefix = Some(name);
        }
        let closed = batch
            .column_by_name("closed_at")
            .and_then(|c| c.as_any().downcast_ref::<TimestampSecondArray>().cloned())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: batches need a closed_at timestamp column",
                    self.describe()
                )
            })?;
        // Rows are in ledger order, so dates come in runs; a run is found
        // by day number, and only its date is formatted.
        let day = |row: usize| closed.value(row).div_euclid(86_400);
        let mut start = 0;
        while start < batch.num_rows() {
            let mut end = start + 1;
            while end < batch.num_rows() && day(end) == day(start) {
                end += 1;
            }
            let date = date_of(closed.value(start));
            self.write_rows(date, &batch.slice(start, end - start), first)?;
            start = end;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        let bytes: u64 = self.open.values().map(|f| f.bytes).sum();
        self.rows >= self.limits.rotate_rows || bytes >= self.limits.rotate_bytes
    }

    fn pending(&self) -> bool {
        self.pending.is_some()
    }

    fn files_written(&self) -> (u64, u64) {
        (self.files_written, self.bytes_written)
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        let Some((first, last)) = self.pending else {
            return Ok(());
        };
        let name = self.describe();
        let prefix = self.prefix.clone().unwrap_or_else(|| "events".into());
        let mut files = Vec::new();
        let mut bytes = 0;
        for (_, open) in std::mem::take(&mut self.open) {
            let tmp = open.tmp.clone();
            let file = match open.writer {
                Writer::Parquet(w) => w.into_inner().map_err(|e| io(&tmp, e))?,
                Writer::Jsonl(mut w) => {
                    w.finish().map_err(|e| io(&tmp, e))?;
                    w.into_inner()
                        .into_inner()
                        .map_err(|e| io(&tmp, e.error()))?
                }
                Writer::Csv(w) => w
                    .into_inner()
                    .into_inner()
                    .map_err(|e| io(&tmp, e.error()))?,
            };
            file.sync_all()
                .map_err(|e| anyhow::anyhow!("{name}: cannot flush {}: {e}", tmp.display()))?;
            bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
            let final_path = open.partition.join(format!(
                "{prefix}-{first:010}-{last:010}.{}",
                self.format.extension()
            ));
            files.push((tmp, final_path));
        }
        if !files.is_empty() {
            self.state.store(&State {
                ledger: self.cursor,
                intent: Some(Intent {
                    end: last,
                    files: files.clone(),
                }),
            })?;
            for (tmp, final_path) in &files {
                std::fs::rename(tmp, final_path).map_err(|e| {
                    anyhow::anyhow!("{name}: cannot finalise {}: {e}", final_path.display())
                })?;
                sync_dir(final_path.parent().unwrap_or(&self.dir));
            }
        }
        self.state.store(&State {
            ledger: Some(last),
            intent: None,
        })?;
        self.cursor = Some(last);
        self.pending = None;
        self.rows = 0;
        self.files_written += files.len() as u64;
        self.bytes_written += bytes;
        Ok(())
    }
}
