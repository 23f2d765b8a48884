//! `tahc rebuild`: every view of a stopped node's data directory rebuilt
//! from its log, with progress and the rate.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::log_store::LogArgs;

/// Rebuilds the views and reports how fast.
pub async fn run(args: LogArgs) -> Result<ExitCode, String> {
    let log = args.open().await.map_err(|e| e.to_string())?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} rebuilding views [{bar:40}] {pos}/{len} positions, {per_sec}, eta {eta}",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    let rebuilt = tahc_app::rebuild::rebuild(&*log, &args.data_dir.join("views"), |at, head| {
        bar.set_length(head.0);
        bar.set_position(at.0);
    })
    .await;
    bar.finish_and_clear();
    log.close().await;
    let rebuilt = rebuilt.map_err(|e| e.to_string())?;
    println!(
        "rebuilt every view from {} events up to position {} in {:.2} s ({:.0} events/s)",
        rebuilt.events,
        rebuilt.position,
        rebuilt.elapsed.as_secs_f64(),
        rebuilt.rate()
    );
    Ok(ExitCode::SUCCESS)
}
