//! Free space kept in reserve on the log's file system.
//!
//! sled 0.34 treats a failed write (ENOSPC on a full disk) as fatal for the
//! rest of the process: every later write fails too. So the log refuses
//! appends while the file system has less than the reserve free, before
//! sled ever meets a full disk, and takes them again as soon as space is
//! back: no restart needed. The reserve also leaves the views, which follow
//! the log on the same disk, room for what the log did accept.

use std::path::{Path, PathBuf};

use crate::error::AppendError;

/// Bytes kept free on the log's file system unless told otherwise.
pub const DEFAULT_RESERVE_BYTES: u64 = 64 << 20;

/// The reserve of one log directory.
pub(super) struct DiskReserve {
    dir: PathBuf,
    bytes: u64,
    /// Whether the last check found the disk short, to log only changes.
    short: bool,
}

impl DiskReserve {
    /// Keeps `bytes` free on the file system of `dir` (0: no reserve).
    pub fn new(dir: &Path, bytes: u64) -> Self {
        DiskReserve {
            dir: dir.to_path_buf(),
            bytes,
            short: false,
        }
    }

    /// `Err` while the file system has less than the reserve free. A file
    /// system that cannot say counts as having room: the write then meets
    /// whatever the disk says.
    pub fn check(&mut self) -> Result<(), Shortage> {
        if self.bytes == 0 {
            return Ok(());
        }
        let Ok(free) = free_bytes(&self.dir) else {
            return Ok(());
        };
        let short = free < self.bytes;
        if short != self.short {
            self.short = short;
            if short {
                tracing::error!(free, reserve = self.bytes, dir = %self.dir.display(), "the disk is nearly full: appends are refused until space is freed");
            } else {
                tracing::warn!(
                    free,
                    reserve = self.bytes,
                    "space is back: appends are taken again"
                );
            }
        }
        if short {
            return Err(Shortage {
                free_bytes: free,
                reserve_bytes: self.bytes,
            });
        }
        Ok(())
    }
}

/// The disk had less free than the reserve.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shortage {
    free_bytes: u64,
    reserve_bytes: u64,
}

impl From<Shortage> for AppendError {
    fn from(shortage: Shortage) -> Self {
        AppendError::DiskFull {
            free_bytes: shortage.free_bytes,
            reserve_bytes: shortage.reserve_bytes,
        }
    }
}

/// Bytes an unprivileged writer may still use on the file system of `dir`.
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let stats = rustix::fs::statvfs(dir)?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_free_space_refuses_and_none_admits() {
        let dir = tempfile::TempDir::new().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        assert!(free > 0);
        let mut whole_disk = DiskReserve::new(dir.path(), free.saturating_add(1 << 40));
        let refused = whole_disk.check().map_err(AppendError::from);
        assert!(matches!(
            refused,
            Err(AppendError::DiskFull { free_bytes, reserve_bytes })
                if free_bytes < reserve_bytes
        ));
        assert!(DiskReserve::new(dir.path(), 0).check().is_ok());
        assert!(DiskReserve::new(dir.path(), 1).check().is_ok());
    }
}
