//! Durable registry state: a snapshot (`registry.pb`, every record, replaced
//! atomically) and an append-only log of changes since it
//! (`registry.log`). A change costs one small append and an fsync whatever
//! the registry's size; the log is folded into a new snapshot once it
//! holds more changes than twice the registry. Loading reads the snapshot
//! and replays the log; a torn last frame (a crash mid-append) is dropped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use prost::Message;

use crate::flowctl::proto::flowctl::ServiceInfo;
use crate::flowctl::proto::stellarflow::v1::{
    service_event::Kind, ServiceEvent, ServiceRecord, ServiceRecordList,
};

/// Fewest logged changes before a compaction is considered.
const MIN_COMPACT_FRAMES: usize = 1024;

/// One change to the registry.
pub(crate) enum Change {
    /// A service's whole record, new or updated.
    Put(Box<ServiceRecord>),
    /// A service removed.
    Delete(String),
}

impl Change {
    /// As a log frame: a `ServiceEvent`, registered (put) or deregistered.
    fn event(&self) -> ServiceEvent {
        match self {
            Change::Put(record) => ServiceEvent {
                kind: Kind::Registered as i32,
                service: Some(record.as_ref().clone()),
                at: None,
            },
            Change::Delete(id) => ServiceEvent {
                kind: Kind::Deregistered as i32,
                service: Some(ServiceRecord {
                    info: Some(ServiceInfo {
                        service_id: id.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                at: None,
            },
        }
    }
}

struct Log {
    file: File,
    frames: usize,
}

/// The registry's files in a state directory.
pub struct Store {
    snapshot: PathBuf,
    log_path: PathBuf,
    /// Serialises appends and compactions.
    log: Mutex<Log>,
}

impl Store {
    /// Opens (creating) `dir` and the registry files inside it.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", dir.display()))?;
        let log_path = dir.join("registry.log");
        let file = open_log(&log_path)?;
        Ok(Store {
            snapshot: dir.join("registry.pb"),
            log_path,
            log: Mutex::new(Log { file, frames: 0 }),
        })
    }

    /// Where the snapshot lives.
    pub fn path(&self) -> &Path {
        &self.snapshot
    }

    /// The saved records: the snapshot with the log replayed over it.
    pub fn load(&self) -> anyhow::Result<Vec<ServiceRecord>> {
        let mut records: std::collections::BTreeMap<String, ServiceRecord> =
            match std::fs::read(&self.snapshot) {
                Ok(bytes) => ServiceRecordList::decode(bytes.as_slice())
                    .map_err(|e| {
                        anyhow::anyhow!("registry file {} is corrupt: {e}", self.snapshot.display())
                    })?
                    .services
                    .into_iter()
                    .map(|r| (id_of(&r).to_string(), r))
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
                Err(e) => anyhow::bail!("cannot read {}: {e}", self.snapshot.display()),
            };
        let bytes = std::fs::read(&self.log_path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", self.log_path.display()))?;
        let (events, good) = frames(&bytes);
        if good < bytes.len() {
            tracing::warn!(path = %self.log_path.display(), dropped = bytes.len() - good,
                "the registry log ends in a torn frame (a crash mid-write); dropping it");
            let file = OpenOptions::new()
                .write(true)
                .open(&self.log_path)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", self.log_path.display()))?;
            file.set_len(good as u64)
                .map_err(|e| anyhow::anyhow!("cannot truncate {}: {e}", self.log_path.display()))?;
        }
        self.log.lock().frames = events.len();
        for event in events {
            let Some(record) = event.service else {
                continue;
            };
            let id = id_of(&record).to_string();
            if event.kind == Kind::Deregistered as i32 {
                records.remove(&id);
            } else {
                records.insert(id, record);
            }
        }
        Ok(records.into_values().collect())
    }

    /// Appends `changes` and makes them durable.
    pub(crate) fn append(&self, changes: &[Change]) -> anyhow::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut buffer = Vec::new();
        for change in changes {
            let frame = change.event().encode_to_vec();
            buffer.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            buffer.extend_from_slice(&frame);
        }
        let mut log = self.log.lock();
        let context = |e: std::io::Error| {
            anyhow::anyhow!("cannot append to {}: {e}", self.log_path.display())
        };
        log.file.write_all(&buffer).map_err(context)?;
        log.file.sync_data().map_err(context)?;
        log.frames += changes.len();
        Ok(())
    }

    /// Folds the log into a new snapshot when it holds more than twice as
    /// many changes as the registry has services (and at least
    /// [`MIN_COMPACT_FRAMES`]), so replay and disk stay linear in the
    /// registry's size. `records` is taken under the log's lock, so no
    /// append slips between the snapshot and the truncation.
    pub(crate) fn compact_if_large(
        &self,
        services: usize,
        records: impl FnOnce() -> Vec<ServiceRecord>,
    ) -> anyhow::Result<bool> {
        let mut log = self.log.lock();
        if log.frames < MIN_COMPACT_FRAMES.max(2 * services) {
            return Ok(false);
        }
        let bytes = ServiceRecordList {
            services: records(),
        }
        .encode_to_vec();
        crate::durable::write_atomic(&self.snapshot, &bytes)?;
        // A crash here replays the old log over the new snapshot: every
        // frame is a whole record or a removal, so the result is the same.
        log.file
            .set_len(0)
            .map_err(|e| anyhow::anyhow!("cannot truncate {}: {e}", self.log_path.display()))?;
        log.file
            .sync_all()
            .map_err(|e| anyhow::anyhow!("cannot sync {}: {e}", self.log_path.display()))?;
        log.frames = 0;
        Ok(true)
    }
}

fn open_log(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))
}

/// The whole frames in `bytes` and the length they cover.
fn frames(bytes: &[u8]) -> (Vec<ServiceEvent>, usize) {
    let mut events = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 4) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let Some(body) = bytes.get(at + 4..at + 4 + len) else {
            break;
        };
        let Ok(event) = ServiceEvent::decode(body) else {
            break;
        };
        events.push(event);
        at += 4 + len;
    }
    (events, at)
}

fn id_of(record: &ServiceRecord) -> &str {
    record
        .info
        .as_ref()
        .map(|i| i.service_id.as_str())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ServiceRecord {
        ServiceRecord {
            info: Some(ServiceInfo {
                service_id: id.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn put(id: &str) -> Change {
        Change::Put(Box::new(record(id)))
    }

    fn ids(records: &[ServiceRecord]) -> Vec<&str> {
        records.iter().map(id_of).collect()
    }

    #[test]
    fn replays_compacts_and_drops_a_torn_frame() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.append(&[put("a"), put("b")]).unwrap();
        store.append(&[Change::Delete("a".into())]).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(ids(&store.load().unwrap()), ["b"]);

        // A torn frame at the end is dropped, and appends go on after it.
        let mut log = OpenOptions::new()
            .append(true)
            .open(dir.path().join("registry.log"))
            .unwrap();
        log.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(ids(&store.load().unwrap()), ["b"]);
        store.append(&[put("c")]).unwrap();
        assert_eq!(ids(&store.load().unwrap()), ["b", "c"]);

        // Many changes fold into a snapshot and an empty log.
        assert!(!store.compact_if_large(2, Vec::new).unwrap());
        for i in 0..MIN_COMPACT_FRAMES / 2 {
            let id = format!("x{i}");
            store.append(&[put(&id), Change::Delete(id)]).unwrap();
        }
        let current = store.load().unwrap();
        assert_eq!(ids(&current), ["b", "c"]);
        assert!(store
            .compact_if_large(current.len(), || current.clone())
            .unwrap());
        let log_len = std::fs::metadata(dir.path().join("registry.log"))
            .unwrap()
            .len();
        assert_eq!(log_len, 0);
        assert_eq!(
            ids(&Store::open(dir.path()).unwrap().load().unwrap()),
            ["b", "c"]
        );
    }
}
