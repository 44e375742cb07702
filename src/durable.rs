//! Files that must survive a crash whole: cursors, the pipeline's state, the
//! control plane's registry, data-lake objects. One way to write them, so
//! that none of them forgets an fsync.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably: a temporary file in
/// the same directory is written and fsynced, renamed over `path`, and the
/// directory is fsynced so the rename itself survives a power loss. A crash
/// at any point leaves either the old content or the new, never a mix.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let context = |e: std::io::Error| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(context)?;
    file.write_all(bytes).map_err(context)?;
    file.as_file().sync_all().map_err(context)?;
    file.persist(path).map_err(|e| context(e.error))?;
    sync_dir(dir);
    Ok(())
}

/// fsyncs a directory so that renames in it are durable. Best effort: some
/// file systems refuse to open or sync a directory, and the rename has
/// happened either way.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Writes `value` as JSON to `path` with [`write_atomic`], creating the
/// directory first: the reports one part leaves for another (where a role
/// listens, a run's summary).
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    write_atomic(path, &serde_json::to_vec_pretty(value)?)
}

/// Reads a whole JSON report written by [`write_json`]; `None` when there
/// is none (yet) or it does not parse.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
