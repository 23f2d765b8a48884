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

/// The files of one sled database that must reach the disk.
pub struct Durability {
    data_file: File,
    blobs_dir: PathBuf,
    synced_blobs: HashSet<OsString>,
}

impl Durability {
    /// Opens the data file of the sled database in `dir`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        Ok(Durability {
            data_file: File::open(dir.join("db"))?,
            blobs_dir: dir.join("blobs"),
            synced_blobs: HashSet::new(),
        })
    }

    /// Flushes sled and forces everything it wrote onto stable storage.
    pub fn make_durable(&mut self, db: &sled::Db) -> io::Result<()> {
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
