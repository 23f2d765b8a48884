//! The layout of a data directory, and opening its log for the CLI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tahc_app::Vault;
use tahc_store::{EventStore, OpenError, SledLog};
use uuid::Uuid;

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

/// Fails with `Missing` when `data_dir` holds no log, so that nothing is
/// created by accident where the user mistyped a path.
pub fn require_log(data_dir: &Path) -> Result<(), OpenLogError> {
    if log_dir(data_dir).join("db").is_file() {
        Ok(())
    } else {
        Err(OpenLogError::Missing(data_dir.to_path_buf()))
    }
}

/// Opens the existing log of `data_dir`; a directory without one is an
/// error, not an empty log created by accident.
pub fn open_existing_log(data_dir: &Path) -> Result<SledLog, OpenLogError> {
    require_log(data_dir)?;
    SledLog::open(log_dir(data_dir)).map_err(OpenLogError::Open)
}

/// The vault of `log`: its subject keys, to open personal data.
pub fn vault_of(log: &SledLog) -> Arc<Vault> {
    Arc::new(Vault::new(log.subject_keys()))
}

/// An id argument: a UUID, or the API's global id of a `kind`.
pub fn id_arg(kind: &'static str) -> impl Fn(&str) -> Result<Uuid, String> + Clone {
    move |text| {
        tahc_api::export::id_of(kind, text)
            .ok_or_else(|| format!("`{text}` is neither a UUID nor a {kind} id"))
    }
}
