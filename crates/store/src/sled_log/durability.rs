//! Making sled's writes durable.
//!
//! sled 0.34's `flush()` ends in `sync_file_range`, which pushes pages to the
//! device but does not flush the drive's cache, and it writes large values as
//! blob files without syncing them at all. After every flush we therefore
//! `fdatasync` the data file and fsync every blob file (and the blob
//! directory) not yet synced. Only then is a round acknowledged.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A disk that fails on demand, for tests of what the log does when
/// storage fails (a full disk, a dying drive): while failing, every attempt
/// to make writes durable fails as a full disk would.
#[derive(Debug, Default)]
pub struct DiskFaults {
    failing: AtomicBool,
}

impl DiskFaults {
    /// Makes the disk fail (`true`) or work again (`false`).
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::Release);
    }

    fn check(&self) -> io::Result<()> {
        if self.failing.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ));
        }
        Ok(())
    }
}

/// The files of one sled database that must reach the disk.
pub struct Durability {
    data_file: File,
    blobs_dir: PathBuf,
    synced_blobs: HashSet<OsString>,
    faults: Arc<DiskFaults>,
}

impl Durability {
    /// Opens the data file of the sled database in `dir`.
    pub fn open(dir: &Path, faults: Arc<DiskFaults>) -> io::Result<Self> {
        Ok(Durability {
            data_file: File::open(dir.join("db"))?,
            blobs_dir: dir.join("blobs"),
            synced_blobs: HashSet::new(),
            faults,
        })
    }

    /// Flushes sled and forces everything it wrote onto stable storage.
    pub fn make_durable(&mut self, db: &sled::Db) -> io::Result<()> {
        self.faults.check()?;
        db.flush().map_err(io::Error::other)?;
        self.data_file.sync_data()?;
        self.sync_new_blobs()
    }

    fn sync_new_blobs(&mut self) -> io::Result<()> {
        let entries = match std::fs::read_dir(&self.blobs_dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        let mut synced_any = false;
        for entry in entries {
            let entry = entry?;
            if self.synced_blobs.contains(&entry.file_name()) {
                continue;
            }
            File::open(entry.path())?.sync_all()?;
            self.synced_blobs.insert(entry.file_name());
            synced_any = true;
        }
        if synced_any {
            File::open(&self.blobs_dir)?.sync_all()?;
        }
        Ok(())
    }
}
