//! `tahc verify`: proof that no stored byte of the log changed.

use std::path::Path;
use std::process::ExitCode;

use tahc_events::Position;
use tahc_projections::{Views, ViewsDir};
use tahc_store::{OpenError, ReadError, verify};

use crate::log_store::LogArgs;

/// Walks the chain; exit 0 when it holds and the data directory's views
/// have applied no more than it holds, 1 naming the first bad position (or
/// the view that is ahead).
pub async fn run(args: LogArgs) -> Result<ExitCode, String> {
    let log = match args.open().await {
        Ok(log) => log,
        // A damaged tail keeps a sled log from opening for writes: that is
        // a verification failure too, at that position.
        Err(OpenError::Corrupt(ReadError::Corrupt { position, .. })) => {
            return Ok(bad(position, 0));
        }
        Err(damaged @ OpenError::Damaged(_)) => {
            println!("FAILED: {damaged}");
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => return Err(error.to_string()),
    };
    let verification = verify(&*log).await;
    log.close().await;
    let verification = verification.map_err(|e| e.to_string())?;
    if let Some(position) = verification.first_bad {
        return Ok(bad(position, verification.checked));
    }
    // A chain that holds may still be a log that lost its events: the
    // views beside it remember how far it went.
    if let Err(lost) = views_within(&args.data_dir, Position(verification.checked)) {
        println!("FAILED: {lost}");
        return Ok(ExitCode::FAILURE);
    }
    println!("ok: {} events, hash chain intact", verification.checked);
    Ok(ExitCode::SUCCESS)
}

/// Checks that the views of `data_dir`, when it has any, have applied no
/// more than `head`.
fn views_within(data_dir: &Path, head: Position) -> Result<(), String> {
    let base = data_dir.join("views");
    let dir = ViewsDir::new(&base)
        .current()
        .map_err(|e| format!("{}: {e}", base.display()))?;
    if !dir.join("db").is_file() {
        return Ok(());
    }
    let views = Views::open(&base).map_err(|e| format!("{}: {e}", dir.display()))?;
    tahc_app::not_ahead_of(&views, head).map_err(|e| e.to_string())
}

fn bad(position: impl std::fmt::Display, checked: u64) -> ExitCode {
    println!("FAILED: first bad position {position} ({checked} events verified before it)");
    ExitCode::FAILURE
}
