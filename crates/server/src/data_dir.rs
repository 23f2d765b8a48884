//! The layout of a data directory, and opening its log for the CLI.

use std::path::{Path, PathBuf};

use tahc_store::{OpenError, SledLog};

/// Where the event log of a data directory lives.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("log")
}

/// Why the log of a data directory could not be opened.
#[derive(Debug)]
pub enum OpenLogError {
    /// The directory holds no log.
    Missing(PathBuf),
    /// The log is there but would not open.
    Open(OpenError),
}

impl std::fmt::Display for OpenLogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenLogError::Missing(dir) => write!(f, "no tahc event log in {}", dir.display()),
            OpenLogError::Open(error) => error.fmt(f),
        }
    }
}

/// Opens the existing log of `data_dir`; a directory without one is an
/// error, not an empty log created by accident.
pub fn open_existing_log(data_dir: &Path) -> Result<SledLog, OpenLogError> {
    let dir = log_dir(data_dir);
    if !dir.join("db").is_file() {
        return Err(OpenLogError::Missing(data_dir.to_path_buf()));
    }
    SledLog::open(&dir).map_err(OpenLogError::Open)
}
