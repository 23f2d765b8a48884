//! `tahc verify`: proof that no stored byte of the log changed.

use std::process::ExitCode;

use tahc_store::{OpenError, ReadError, verify};

use crate::log_store::LogArgs;

/// Walks the chain; exit 0 when it holds, 1 naming the first bad position.
pub async fn run(args: LogArgs) -> Result<ExitCode, String> {
    let log = match args.open().await {
        Ok(log) => log,
        // A damaged tail keeps a sled log from opening for writes: that is
        // a verification failure too, at that position.
        Err(OpenError::Corrupt(ReadError::Corrupt { position, .. })) => {
            return Ok(bad(position, 0));
        }
        Err(error) => return Err(error.to_string()),
    };
    let verification = verify(&*log).await;
    log.close().await;
    let verification = verification.map_err(|e| e.to_string())?;
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
