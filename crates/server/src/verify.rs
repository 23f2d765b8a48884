//! `tahc verify`: proof that no stored byte of the log changed.

use std::path::Path;
use std::process::ExitCode;

use tahc_store::{EventStore, OpenError, ReadError};

use crate::data_dir::{OpenLogError, open_existing_log};

/// Walks the chain; exit 0 when it holds, 1 naming the first bad position.
pub async fn run(data_dir: &Path) -> Result<ExitCode, String> {
    let log = match open_existing_log(data_dir) {
        Ok(log) => log,
        // A damaged tail keeps the log from opening for writes: that is a
        // verification failure too, at that position.
        Err(OpenLogError::Open(OpenError::Corrupt(ReadError::Corrupt { position, .. }))) => {
            return Ok(bad(position, 0));
        }
        Err(error) => return Err(error.to_string()),
    };
    let verification = log.verify().await.map_err(|e| e.to_string())?;
    log.close().await;
    Ok(match verification.first_bad {
        None => {
            println!("ok: {} events, hash chain intact", verification.checked);
            ExitCode::SUCCESS
        }
        Some(position) => bad(position, verification.checked),
    })
}

fn bad(position: impl std::fmt::Display, checked: u64) -> ExitCode {
    println!("FAILED: first bad position {position} ({checked} events verified before it)");
    ExitCode::FAILURE
}
