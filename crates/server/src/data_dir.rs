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

/// Opens the existing sled log of `data_dir`; a directory without one is
/// [`OpenError::NoLog`], not an empty log created where the user mistyped
/// a path.
pub fn open_sled_log(data_dir: &Path) -> Result<SledLog, OpenError> {
    if !log_dir(data_dir).join("db").is_file() {
        return Err(OpenError::NoLog(data_dir.display().to_string()));
    }
    SledLog::open(log_dir(data_dir))
}

/// The vault of `log`: its subject keys, to open personal data.
pub fn vault_of(log: &dyn EventStore) -> Arc<Vault> {
    Arc::new(Vault::new(log.subject_keys()))
}

/// An id argument: a UUID, or the API's global id of a `kind`.
pub fn id_arg(kind: &'static str) -> impl Fn(&str) -> Result<Uuid, String> + Clone {
    move |text| {
        tahc_api::export::id_of(kind, text)
            .ok_or_else(|| format!("`{text}` is neither a UUID nor a {kind} id"))
    }
}
