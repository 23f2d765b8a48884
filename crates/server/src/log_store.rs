//! `--store`: where a node's event log lives — sled in its data directory
//! (one node) or a PostgreSQL database that several nodes share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tahc_store::{EventStore, OpenError, PgLog, PgOptions, SledLog, SledOptions};

/// The log a command runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogStore {
    /// The sled log in the data directory's `log/`.
    Sled,
    /// A PostgreSQL database, by its `postgres://` URL.
    Postgres(String),
}

impl LogStore {
    /// Parses `sled` or a `postgres://` / `postgresql://` URL.
    pub fn parse(text: &str) -> Result<LogStore, String> {
        if text == "sled" {
            Ok(LogStore::Sled)
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(LogStore::Postgres(text.to_owned()))
        } else {
            Err(format!(
                "`{}` is neither `sled` nor a postgres:// URL",
                tahc_store::without_password(text)
            ))
        }
    }

    /// Opens the log: sled in `data_dir`, tuned by `sled`, or the database
    /// (its schema created or migrated).
    pub async fn open(
        &self,
        data_dir: &Path,
        sled: SledOptions,
    ) -> Result<Arc<dyn EventStore>, OpenError> {
        Ok(match self {
            LogStore::Sled => Arc::new(SledLog::open_with(
                crate::data_dir::log_dir(data_dir),
                sled,
            )?),
            LogStore::Postgres(url) => Arc::new(PgLog::connect(url).await?),
        })
    }

    /// Opens a log that must already exist, for commands that read it:
    /// where there is none, [`OpenError::NoLog`], and nothing is created
    /// (no directory, no tables).
    pub async fn open_existing(&self, data_dir: &Path) -> Result<Arc<dyn EventStore>, OpenError> {
        Ok(match self {
            LogStore::Sled => Arc::new(crate::data_dir::open_sled_log(data_dir)?),
            LogStore::Postgres(url) => {
                let options = PgOptions {
                    migrate: false,
                    ..PgOptions::default()
                };
                Arc::new(PgLog::connect_with(url, options).await?)
            }
        })
    }
}

/// `--store`, shared by every command that opens a log.
#[derive(clap::Args)]
pub struct StoreArg {
    /// Where the event log lives: `sled`, in the data directory (one node),
    /// or a `postgres://` URL of a database several nodes share (each
    /// keeps its views in its own data directory; docs/scaling.md).
    #[arg(
        long = "store",
        id = "store",
        value_name = "STORE",
        env = "TAHC_STORE",
        hide_env_values = true,
        default_value = "sled",
        value_parser = StoreParser
    )]
    pub log: LogStore,
}

/// Where the commands that read a log (`events`, `verify`, `replay`,
/// `rebuild`, `export`) find it.
#[derive(clap::Args)]
pub struct LogArgs {
    /// The data directory: its sled log in DIR/log, a node's views in
    /// DIR/views. With a postgres:// store only `rebuild` and `export` use
    /// it, for the views.
    #[arg(
        long,
        value_name = "DIR",
        env = "TAHC_DATA_DIR",
        default_value = "./tahc-data"
    )]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub store: StoreArg,
}

impl LogArgs {
    /// The existing log these arguments name.
    pub async fn open(&self) -> Result<Arc<dyn EventStore>, OpenError> {
        self.store.log.open_existing(&self.data_dir).await
    }

    /// Where the log is, for messages: the data directory, or the
    /// database without its password.
    pub fn location(&self) -> String {
        match &self.store.log {
            LogStore::Sled => self.data_dir.display().to_string(),
            postgres => postgres.to_string(),
        }
    }
}

/// Parses `--store` for clap, whose own message would repeat the value,
/// password and all.
#[derive(Clone)]
pub struct StoreParser;

impl clap::builder::TypedValueParser for StoreParser {
    type Value = LogStore;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<LogStore, clap::Error> {
        let name = arg.map_or_else(|| "--store".to_owned(), ToString::to_string);
        let refuse = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for '{name}': {why}\n"),
            )
            .with_cmd(command)
        };
        let text = value.to_str().ok_or_else(|| refuse("not UTF-8".into()))?;
        LogStore::parse(text).map_err(refuse)
    }
}

/// Shown in messages: never with a password.
impl fmt::Display for LogStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogStore::Sled => f.write_str("sled (in the data directory)"),
            LogStore::Postgres(url) => {
                write!(f, "PostgreSQL at {}", tahc_store::without_password(url))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_sled_or_a_postgres_url_and_messages_hide_the_password() {
        assert_eq!(LogStore::parse("sled"), Ok(LogStore::Sled));
        let url = "postgres://tahc:secret@db/tahc";
        let store = LogStore::parse(url).unwrap();
        assert_eq!(store, LogStore::Postgres(url.into()));
        assert_eq!(
            store.to_string(),
            "PostgreSQL at postgres://tahc:***@db/tahc"
        );
        let refused = LogStore::parse("mysql://tahc:secret@db/tahc").unwrap_err();
        assert!(
            refused.contains("neither `sled` nor a postgres:// URL"),
            "{refused}"
        );
        assert!(!refused.contains("secret"), "{refused}");
    }
}
