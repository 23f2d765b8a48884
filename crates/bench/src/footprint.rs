//! `tahc-bench footprint`: the memory a node needs just to have a data
//! directory's sled databases open, per event in its log. sled 0.34 keeps an
//! in-memory entry for every page it has ever written (with a pointer for
//! each fragment of it on disk) whether or not the page is cached, so this
//! part of a node's memory grows with its data, not with its load (the
//! soak's slope, docs/benchmarks.md). Each database is opened as a node
//! opens it, in a child process of its own so that the figures are its
//! alone, beside an empty database opened the same way: the baseline.

use std::path::{Path, PathBuf};

use serde_json::json;
use tahc_store::{EventStore, LogReader, SledLog};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Options of `tahc-bench footprint`.
#[derive(clap::Args)]
pub struct FootprintArgs {
    /// The data directory of a stopped node (`tahc serve --data-dir`, or
    /// `tahc-bench soak --data-dir`).
    #[arg(long)]
    data_dir: PathBuf,
    #[command(flatten)]
    cache: crate::CacheArgs,
}

/// Options of the hidden `tahc-bench footprint-open`.
#[derive(clap::Args)]
pub struct OpenArgs {
    /// Which of a node's databases `path` is, so it is opened as the node
    /// opens that one.
    #[arg(long, value_enum)]
    database: Database,
    /// The sled database to open.
    #[arg(long)]
    path: PathBuf,
    #[command(flatten)]
    cache: crate::CacheArgs,
}

/// A node's sled databases.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Database {
    /// The event log (`DIR/log`).
    Log,
    /// The views (`DIR/views`).
    Views,
}

impl Database {
    /// Whether a data directory holds this database (the views in the
    /// directory `views.current` names).
    fn present_in(self, data_dir: &Path) -> bool {
        let path = data_dir.join(self.name());
        match self {
            Database::Log => path.is_dir(),
            Database::Views => tahc_projections::ViewsDir::new(path)
                .current()
                .is_ok_and(|dir| dir.is_dir()),
        }
    }

    /// Its directory inside a data directory, and its name in the output.
    fn name(self) -> &'static str {
        match self {
            Database::Log => "log",
            Database::Views => "views",
        }
    }
}

/// Runs `tahc-bench footprint`.
pub async fn run(args: FootprintArgs) -> Result<()> {
    let databases = [Database::Log, Database::Views];
    if let Some(missing) = databases
        .iter()
        .find(|database| !database.present_in(&args.data_dir))
    {
        return Err(format!(
            "{} is not a tahc data directory (no {})",
            args.data_dir.display(),
            missing.name()
        )
        .into());
    }
    // Opening the log also tells that no node has it open.
    let log = SledLog::open(args.data_dir.join(Database::Log.name()))?;
    let events = log.head().await?.0;
    log.close().await;
    drop(log);
    for database in databases {
        let empty = tempfile::TempDir::new()?;
        let baseline = opened_kib(database, empty.path(), &args.cache).await?;
        let kib = opened_kib(database, &args.data_dir.join(database.name()), &args.cache).await?;
        let grown = kib.saturating_sub(baseline);
        println!(
            "{}",
            json!({
                "bench": "sled_footprint",
                "database": database.name(),
                "events": events,
                "opened_kib": kib,
                "baseline": "empty_database_opened_kib",
                "baseline_kib": baseline,
                "bytes_per_event": (grown * 1024).checked_div(events),
            })
        );
    }
    Ok(())
}

/// The resident memory, in KiB, that opening `database` at `path` (with
/// every tree in it) adds to a new process.
async fn opened_kib(database: Database, path: &Path, cache: &crate::CacheArgs) -> Result<u64> {
    let output = tokio::process::Command::new(std::env::current_exe()?)
        .arg("footprint-open")
        .args(["--database", database.name(), "--path"])
        .arg(path)
        .args(["--cache-mib", &cache.cache_mib.to_string()])
        .output()
        .await?;
    if !output.status.success() {
        return Err(format!(
            "opening {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

/// Runs `tahc-bench footprint-open`: prints the KiB that opening the
/// database added to this process's resident memory.
pub fn open(args: &OpenArgs) -> Result<()> {
    let cache_bytes = args.cache.sled_options().cache_bytes;
    let before = crate::live::rss_kib();
    match args.database {
        Database::Log => {
            let db = tahc_store::open_sled_db_with(&args.path, cache_bytes)?;
            for name in db.tree_names() {
                db.open_tree(name)?;
            }
        }
        Database::Views => {
            let views = tahc_projections::Views::open_with_cache(&args.path, cache_bytes)?;
            for name in views.names() {
                views.view(&name)?;
            }
        }
    }
    println!("{}", crate::live::rss_kib().saturating_sub(before));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_without_a_log_and_views_is_refused_before_anything_is_opened() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::create_dir(dir.path().join("log")).unwrap();
        let args = FootprintArgs {
            data_dir: dir.path().to_path_buf(),
            cache: crate::CacheArgs { cache_mib: 8 },
        };
        let error = run(args).await.unwrap_err().to_string();
        assert!(
            error.contains("is not a tahc data directory (no views)"),
            "{error}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("log")).unwrap().count(),
            0
        );
    }
}
