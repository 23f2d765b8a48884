//! `tahc migrate`: copies a data directory's sled log into an empty
//! PostgreSQL log — every record as it was, the subject keys, and the
//! secrets every node must share — then verifies the hash chain there.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tahc_store::{EventStore, PgLog, verify};

use crate::data_dir::open_sled_log;
use crate::log_store::{LogStore, StoreParser};

/// The data directory's secrets that move with its log.
const SECRETS: [&str; 2] = ["email.key", "token.key"];

/// Options of `tahc migrate`.
#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The data directory whose sled log is copied (only read; stop its
    /// node first).
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The `postgres://` URL of the database to copy it into; its log must
    /// be empty.
    #[arg(long, value_name = "URL", value_parser = StoreParser)]
    to: LogStore,
}

/// Copies, verifies, and says how to start nodes on the copy.
pub async fn run(args: MigrateArgs) -> Result<ExitCode, String> {
    let LogStore::Postgres(url) = &args.to else {
        return Err("--to must be a postgres:// URL".into());
    };
    let source = open_sled_log(&args.from).map_err(|e| e.to_string())?;
    let checked = verify(&source).await.map_err(|e| e.to_string())?;
    if let Some(position) = checked.first_bad {
        return Err(format!(
            "the hash chain of {} is broken at position {position}: not migrating",
            args.from.display()
        ));
    }
    let secrets = secrets(&args.from)?;
    let target = PgLog::connect(url).await.map_err(|e| e.to_string())?;
    let imported = target
        .import(&source, &secrets)
        .await
        .map_err(|e| e.to_string())?;
    source.close().await;
    let copied = verify(&target).await.map_err(|e| e.to_string())?;
    target.close().await;
    if !copied.ok() || copied.checked != imported.events {
        return Err(format!(
            "the copy in {} does not verify ({copied:?}): do not start nodes on it",
            args.to
        ));
    }
    println!(
        "migrated {} events, {} subject keys and {} secrets into {}",
        imported.events,
        imported.keys,
        secrets.len(),
        args.to
    );
    println!(
        "ok: {} events, hash chain intact in the copy",
        copied.checked
    );
    println!(
        "start nodes with: tahc serve --store '{}' --data-dir <a directory for each node's views>",
        tahc_store::without_password(url)
    );
    Ok(ExitCode::SUCCESS)
}

/// The secrets of `data_dir` that exist there (a directory whose node never
/// started has none).
fn secrets(data_dir: &Path) -> Result<Vec<(&'static str, [u8; 32])>, String> {
    let mut found = Vec::new();
    for name in SECRETS {
        let path = data_dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let value = bytes
                    .try_into()
                    .map_err(|_| format!("{}: expected 32 bytes", path.display()))?;
                found.push((name, value));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Ok(found)
}
