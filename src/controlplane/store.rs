//! Durable registry state: the whole registry as one protobuf file,
//! replaced atomically (write to a temporary file, fsync, rename), so a
//! restarted control plane lists the same services and a crash never leaves
//! a torn file.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use prost::Message;

use crate::flowctl::proto::stellarflow::v1::{ServiceRecord, ServiceRecordList};

/// The registry file in a state directory.
pub struct Store {
    path: PathBuf,
    /// Serialises writers so the newest snapshot is the one that lands.
    lock: Mutex<()>,
}

impl Store {
    /// Opens (creating) `dir` and the registry file inside it.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create state dir {}: {e}", dir.display()))?;
        Ok(Store {
            path: dir.join("registry.pb"),
            lock: Mutex::new(()),
        })
    }

    /// Where the registry lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the saved records (none when the file does not exist yet).
    pub fn load(&self) -> anyhow::Result<Vec<ServiceRecord>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(ServiceRecordList::decode(bytes.as_slice())
                .map_err(|e| {
                    anyhow::anyhow!("registry file {} is corrupt: {e}", self.path.display())
                })?
                .services),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", self.path.display())),
        }
    }

    /// Saves the snapshot `records()` takes while holding the write lock.
    pub(crate) fn save(&self, records: impl FnOnce() -> Vec<ServiceRecord>) -> anyhow::Result<()> {
        let _guard = self.lock.lock();
        let bytes = ServiceRecordList {
            services: records(),
        }
        .encode_to_vec();
        crate::durable::write_atomic(&self.path, &bytes)
    }
}
